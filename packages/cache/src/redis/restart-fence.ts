import { CacheError, cacheErrorCodes } from '../errors.ts';
import type { KeyBuilder } from '../keys.ts';
import type { RedisLike, RestartAwareRedisLike } from '../types.ts';
import type { RedisCall } from './health-gate.ts';
import { deleteMatching } from './namespace.ts';

/** How long the fence key lives (ms): renewed by every check; if it is gone, the check deletes. */
const FENCE_TTL_MS = 30 * 24 * 3600 * 1000;

/**
 * Keeps the versioned store off a Redis that may have restarted from an older snapshot (RDB or AOF
 * on, a managed service's restore): its pointers would be back at versions every instance had
 * left behind. {@link RestartFence.suspect} is called whenever the subscription drops (a restart
 * drops it); from then until a check completes, {@link RestartFence.ready} is false and the store
 * skips Redis for reads (they go to the loader; writes go through). The check reads
 * Redis's `run_id` and the namespace's fence key; when the fence holds another run's (or none,
 * where this instance had checked another run), it deletes every key of the namespace (SCAN +
 * UNLINK); then it sets the fence to this run.
 */
export interface RestartFence {
  /** Whether the store may use Redis (no restart unchecked). */
  readonly ready: boolean;
  /** The subscription dropped: Redis may have restarted. Checks, retrying until it succeeds. */
  suspect(): void;
  /** Settles once the first check has succeeded or failed (it is retried after a failure). */
  readonly firstCheck: Promise<void>;
  /** Stops retrying. */
  close(): void;
}

/** Options of {@link createRestartFence}. */
export interface RestartFenceOptions {
  redis: RedisLike;
  keys: KeyBuilder;
  redisCall: RedisCall;
  retryMs: number;
  /** Told when a restored namespace was deleted, with the run it now belongs to. */
  onRestored?(runId: string, keysDeleted: number): void;
  /** Told when the check cannot run at all (the client lacks the commands, or an ACL refuses them). */
  onUnavailable(error: CacheError): void;
}

/** Whether `redis` offers what a check needs. */
export function canFence(redis: RedisLike): redis is RestartAwareRedisLike {
  const r = redis as Partial<RestartAwareRedisLike>;
  return [r.info, r.scan, r.unlink].every((method) => typeof method === 'function');
}

/** Creates the fence; it starts suspecting (not ready) and checks at once. */
export function createRestartFence(options: RestartFenceOptions): RestartFence {
  const { keys, redisCall } = options;
  let ready = false;
  let checking = false;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  if (!canFence(options.redis)) {
    options.onUnavailable(
      new CacheError(
        cacheErrorCodes.redisFailed,
        'the Redis client has no info/scan/unlink: a Redis restored from an older snapshot is not detected',
      ),
    );
    return { ready: true, firstCheck: Promise.resolve(), suspect() {}, close() {} };
  }
  const redis = options.redis;
  let unavailable = false;
  /** The run of the last successful check. */
  let knownRunId: string | undefined;

  async function checkOnce(): Promise<void> {
    const info = await redisCall('INFO server', () => redis.info('server'));
    const runId = /run_id:([0-9a-f]+)/.exec(info)?.[1];
    if (!runId) throw new Error('INFO server has no run_id');
    const fenced = await redisCall('GET fence', () => redis.get(keys.fence()));
    // Another run's fence, or none where this instance knew another run: Redis restarted, and
    // what it holds may come from a snapshot. No fence and no run known: a namespace never
    // fenced (new, or its fence expired), which nothing says is older.
    const restarted = knownRunId !== undefined && knownRunId !== runId;
    if (fenced !== runId && (fenced !== null || restarted)) {
      // Deleted first, not as an argument of `onRestored?.()`: an optional call that is not
      // made evaluates none of its arguments.
      const deleted = await deleteMatching(redis, keys.pattern(), redisCall);
      options.onRestored?.(runId, deleted);
    }
    const ttl = { expiration: { type: 'PX', value: FENCE_TTL_MS } } as const;
    await redisCall('SET fence', () => redis.set(keys.fence(), runId, ttl));
    knownRunId = runId;
  }

  async function check(): Promise<void> {
    if (closed) return;
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    clearTimeout(timer);
    try {
      do {
        again = false;
        await checkOnce();
      } while (again);
      ready = true;
    } catch (error) {
      if (/NOPERM/.test(String((error as CacheError).cause ?? error))) {
        // An ACL without these commands: say so once, and use Redis as before.
        if (!unavailable) {
          options.onUnavailable(
            new CacheError(
              cacheErrorCodes.redisFailed,
              'Redis refused INFO, SCAN or UNLINK (allow +info +scan +unlink): a Redis restored from an older snapshot is not detected',
              { cause: error },
            ),
          );
        }
        unavailable = true;
        ready = true;
      } else if (!closed) {
        timer = setTimeout(() => void check(), options.retryMs).unref();
      }
    } finally {
      checking = false;
    }
  }

  const firstCheck = check();
  return {
    get ready() {
      return ready;
    },
    firstCheck,
    suspect() {
      if (unavailable || closed) return;
      ready = false;
      void check();
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
