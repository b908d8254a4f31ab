/**
 * `REDIS_CLUSTER=1 npm start`: joins the six `redis-server` nodes that npm start runs (ports given
 * as arguments) into a cluster of three masters with one replica each, once every node answers
 * PING, and waits until every node reports `cluster_state:ok`; then exits 0. Exits 1 with one
 * line when that takes longer than a minute or `redis-cli --cluster create` fails.
 */
import { execFile } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DEADLINE_MS = 60_000;

const ports = process.argv.slice(2);
const deadline = Date.now() + DEADLINE_MS;

async function cli(port: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', port, ...args], { timeout: 5000 });
  return stdout.trim();
}

/** Polls `check` until it is true; exits 1 naming `what` at the deadline. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      console.error(`redis cluster: ${what} not within ${DEADLINE_MS / 1000}s`);
      process.exit(1);
    }
    await delay(100);
  }
}

for (const port of ports) {
  await until(
    `redis-server on 127.0.0.1:${port}`,
    async () => (await cli(port, 'PING')) === 'PONG',
  );
}
try {
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  await run(
    'redis-cli',
    ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'],
    {
      timeout: 30_000,
    },
  );
} catch (error) {
  const output = `${(error as { stdout?: string }).stdout ?? ''}`.trim().split('\n').pop();
  console.error(
    `redis cluster: redis-cli --cluster create failed: ${output || (error as Error).message}`,
  );
  process.exit(1);
}
for (const port of ports) {
  await until('cluster_state:ok on every node', async () =>
    (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
  );
}
console.log(`redis cluster ready: 3 masters, 3 replicas on 127.0.0.1:${ports.join(',')}`);
