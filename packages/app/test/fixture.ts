import type { AddressInfo } from 'node:net';
import { type CacheOptions, createCache } from '@cachelab/cache';
import { createPool, createUsersRepository, prepareDatabase } from '@cachelab/store';
import { uniqueName, waitFor } from '@cachelab/testkit';
import { nanoid } from 'nanoid';
import { createClient } from 'redis';
import { inject, onTestFinished } from 'vitest';
import { createServer } from '../src/app.ts';
import { createLogger, type LogLevel } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import type { UserBody } from '../src/user-view.ts';

/**
 * The fixtures' heartbeat, in ms: 2 s ticks tolerate a 1 s pause before the stall detector
 * withholds L1, and a 6 s timeout. Tests of liveness and faults pass short intervals themselves.
 */
export const FIXTURE_HEARTBEAT = { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 6000 } as const;

/** Where an app fixture's log lines go, parsed, when a test wants to read them. */
export interface LogCapture {
  level: LogLevel;
  lines: Record<string, unknown>[];
}

/**
 * A listening instance over the test Redis (its own key namespace) and the shared embedded
 * database (seeded with users 1…100), with its metrics wired as `main.ts` wires them, torn down
 * after the test. Logs go nowhere unless `logs` is given.
 */
export async function appFixture(
  name = 'app-test',
  options: Partial<CacheOptions> = {},
  logs?: LogCapture,
) {
  const redis = createClient({ url: inject('redisUrl') });
  redis.on('error', () => {});
  await redis.connect();
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  await subscriber.connect();
  const pool = createPool({ connectionString: inject('databaseUrl'), max: 4 });
  await prepareDatabase(pool, { seedUsers: 100 });
  const metrics = createMetrics();
  const users = createUsersRepository({ db: pool, onQuery: metrics.onQuery });
  const namespace = options.namespace ?? uniqueName();
  const instance = { name, id: nanoid(8) };
  const cache = createCache<UserBody>({
    redis,
    subscriber,
    namespace,
    origin: `${name}/${instance.id}`,
    // Long enough that a loaded machine's pauses (a stall is a tick more than half an interval
    // late) never withhold L1 by accident; liveness and fault tests set short ones themselves.
    heartbeatIntervalMs: FIXTURE_HEARTBEAT.heartbeatIntervalMs,
    heartbeatTimeoutMs: FIXTURE_HEARTBEAT.heartbeatTimeoutMs,
    events: metrics.cacheEvents,
    ...options,
  });
  const unexpected: unknown[] = [];
  const server = createServer({
    users,
    cache,
    instance,
    checks: { redis: async () => void (await redis.ping()), database: () => users.ping() },
    onError: (error) => unexpected.push(error),
    metrics,
    logger: logs && captureLogs(logs, instance),
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if ((options.strategy ?? 'versioned') === 'versioned') {
    await waitFor(() => cache.stats().trusted, { what: 'the bus to be trusted' });
  }
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await cache.close();
    await pool.end();
    subscriber.destroy();
    redis.destroy();
  });
  return { base, cache, users, redis, instance, unexpected, namespace, metrics };
}

function captureLogs(logs: LogCapture, instance: { name: string; id: string }) {
  const destination = {
    write(line: string) {
      logs.lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return createLogger({ level: logs.level, instance, destination });
}

/** JSON-sending fetch shorthand. */
export function send(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}
