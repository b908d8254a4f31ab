import { uniqueName } from '@cachelab/testkit';
import { createClient } from 'redis';
import { inject, onTestFinished } from 'vitest';
import '../../../test/support/index.ts';
import {
  type Cache,
  type CacheOptions,
  createCache,
  createKeys,
  type Loaded,
} from '../src/index.ts';

/**
 * The fixtures' heartbeat, in ms: 2 s ticks tolerate a 1 s pause before the stall detector
 * withholds L1, and a 6 s timeout. Tests of liveness and faults pass short intervals themselves.
 */
export const FIXTURE_HEARTBEAT = { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 6000 } as const;

/** A connected client (to the test Redis unless `url` says otherwise), closed after the test. */
export async function redisClient(
  url = inject('redisUrl'),
  options: { subscriber?: boolean } = {},
) {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    // A subscriber notices a dead connection by its own PINGs going unanswered.
    ...(options.subscriber ? { pingInterval: 200 } : {}),
    socket: { connectTimeout: 1000, reconnectStrategy: () => 50, socketTimeout: 1500 },
  });
  client.on('error', () => {});
  await client.connect();
  onTestFinished(async () => {
    if (client.isOpen) client.destroy();
  });
  return client;
}

/**
 * A cache over the test Redis, with its own subscriber connection when the strategy needs one,
 * closed after the test. Pass `namespace` to make several caches (instances) share keys.
 */
export async function cacheFixture<V = { name: string }>(
  options: Partial<CacheOptions> & { url?: string; subscriberUrl?: string } = {},
) {
  const { url, subscriberUrl, ...cacheOptions } = options;
  const redis = await redisClient(url);
  const strategy = cacheOptions.strategy ?? 'versioned';
  const subscriber =
    strategy === 'versioned'
      ? await redisClient(subscriberUrl ?? url, { subscriber: true })
      : undefined;
  const namespace = cacheOptions.namespace ?? uniqueName();
  const cache: Cache<V> = createCache<V>({
    redis,
    subscriber,
    namespace,
    // Long enough that a loaded machine's pauses (a stall is a tick more than half an interval
    // late) never withhold L1 by accident; liveness and fault tests set short ones themselves.
    heartbeatIntervalMs: FIXTURE_HEARTBEAT.heartbeatIntervalMs,
    heartbeatTimeoutMs: FIXTURE_HEARTBEAT.heartbeatTimeoutMs,
    // The library's 250 ms is for production; under a loaded CI machine a round trip can take
    // longer, and a read that times out goes on without Redis (for example loading beside a held
    // lease: two loads where the test counts one). Tests of timeouts set their own.
    redisTimeoutMs: 2000,
    ...cacheOptions,
  });
  onTestFinished(() => cache.close());
  return { cache, redis, subscriber, namespace, keys: createKeys(namespace) };
}

/** A loader over a map (the "database"), counting its calls, optionally held at a gate. */
export function mapLoader<V>(entries: Record<string, Loaded<V>> = {}) {
  const calls: string[] = [];
  let gate: Promise<void> | undefined;
  return {
    calls,
    entries,
    /** Holds every load until the returned function is called. */
    hold(): () => void {
      let release = () => {};
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
    load: async (key: string): Promise<Loaded<V>> => {
      calls.push(key);
      // The row is read now; the gate holds the answer on its way back, as a slow network would.
      const row = entries[key] ?? { value: null, version: 0 };
      if (gate) await gate;
      return row;
    },
  };
}

/** A promise with its resolve function exposed: a gate a test opens when it chooses. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
