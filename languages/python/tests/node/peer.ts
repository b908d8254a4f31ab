/**
 * A Node.js instance of the cachelab protocol for the Python tests: @cachelab/cache from this
 * repository, driven by one JSON command per stdin line, one JSON answer per stdout line.
 *
 *   node --import tsx peer.ts <redis-url> <namespace> <origin> [pubsub] [secret]
 *
 * Commands: {op:'get', key, row:{value, version}, minVersion?, consistency?} (the row is what
 * the loader returns), {op:'set', key, value, version}, {op:'stats'}, {op:'close'}.
 */
import { createInterface } from 'node:readline';
import { createClient } from 'redis';
import { createCache } from '../../../../packages/cache/src/index.ts';

const [url, namespace, origin, pubsub = 'global', secret] = process.argv.slice(2);
const redis = createClient({ url });
const subscriber = redis.duplicate();
await Promise.all([redis.connect(), subscriber.connect()]);
const cache = createCache<unknown>({
  redis,
  subscriber,
  namespace,
  origin,
  pubsub: pubsub as 'global' | 'sharded',
  heartbeatIntervalMs: 50,
  heartbeatTimeoutMs: 500,
  ...(secret ? { signingSecret: secret } : {}),
});

type Command = {
  op: string;
  key: string;
  value?: unknown;
  version?: number;
  row?: { value: unknown; version: number };
  minVersion?: number;
  consistency?: 'eventual' | 'strict';
};

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'get': {
      const row = command.row ?? { value: null, version: 0 };
      const read = await cache.getOrLoad(command.key, async () => row, {
        minVersion: command.minVersion,
        consistency: command.consistency,
      });
      return { value: read.value, version: read.version, tier: read.tier };
    }
    case 'set':
      await cache.set(command.key, { value: command.value, version: command.version ?? 0 });
      return {};
    case 'stats':
      return cache.stats();
    case 'close':
      await cache.close();
      await Promise.all([redis.quit(), subscriber.quit()]);
      return {};
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Command;
  try {
    process.stdout.write(`${JSON.stringify({ ok: await run(command) })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
  }
  if (command.op === 'close') break;
}
process.exit(0);
