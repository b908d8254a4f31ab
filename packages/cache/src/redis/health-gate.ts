import { CacheError, cacheErrorCodes } from '../errors.ts';
import { redisCall } from '../timeout.ts';

/** Runs one Redis call; see {@link createHealthGate}. */
export type RedisCall = <T>(what: string, run: () => Promise<T>) => Promise<T>;

/** Options of {@link createHealthGate}. */
export interface HealthGateOptions {
  /** Bound on each call, in ms. */
  timeoutMs: number;
  /** While Redis is skipped, one call per this many ms is let through to see if it answers. */
  probeIntervalMs: number;
  /** Told when Redis answers again after calls were skipped (the gate opens). */
  onOpen?: () => void;
}

/**
 * Bounds every Redis call by `timeoutMs` and, once one has timed out, skips Redis (calls fail at
 * once with `E_REDIS_SKIPPED`) until it answers again: one call per `probeIntervalMs` is let
 * through as a probe, and the first call that succeeds opens the gate. A frozen Redis therefore
 * costs a read at most one timeout (the pointer read, or the probe), never one per round trip.
 * A call that timed out opens the gate too when its answer finally comes (the moment a paused or
 * frozen Redis resumes), and `onOpen` is told, so that what waited for Redis (announcements) can go
 * at once. Errors other than a timeout leave the gate as it is: they are fast already. The interval is
 * measured on the monotonic clock (`performance.now()`), so a step of the wall clock cannot move it.
 */
export function createHealthGate(options: HealthGateOptions): RedisCall {
  const { timeoutMs, probeIntervalMs } = options;
  let skipping = false;
  let nextProbeAt = 0;
  let probing = false;

  function open(): void {
    if (!skipping) return;
    skipping = false;
    options.onOpen?.();
  }

  return async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    let probe = false;
    if (skipping) {
      if (probing || performance.now() < nextProbeAt) {
        throw new CacheError(
          cacheErrorCodes.redisSkipped,
          `${what} skipped: Redis has not answered since a call timed out`,
        );
      }
      probe = probing = true;
    }
    let running: Promise<T> | undefined;
    try {
      const result = await redisCall(what, timeoutMs, () => {
        running = run();
        return running;
      });
      open();
      return result;
    } catch (error) {
      // Only a timeout, or the probe itself failing, sets the next probe: a call that was in
      // flight when Redis froze and now fails fast (its connection destroyed) must not defer it.
      const timedOut = (error as CacheError).code === cacheErrorCodes.redisTimeout;
      if (timedOut) {
        skipping = true;
        // The call is still queued in Redis (paused writes, a frozen process): its answer, however
        // late, is the first sign that Redis is back, well before the next probe would tell.
        running?.then(open, () => {});
      }
      if (timedOut || (probe && skipping)) nextProbeAt = performance.now() + probeIntervalMs;
      throw error;
    } finally {
      if (probe) probing = false;
    }
  };
}
