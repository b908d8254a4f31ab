import { CacheError, cacheErrorCodes } from './errors.ts';

/**
 * Settles with `promise`, or rejects with `E_REDIS_TIMEOUT` after `ms`, so that a stuck Redis can
 * delay a request by at most `ms` whatever the client's own settings are.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new CacheError(cacheErrorCodes.redisTimeout, `${what} timed out after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs one Redis call bounded by `ms`; any failure comes out as a {@link CacheError}
 * (`E_REDIS_TIMEOUT`, or `E_REDIS_FAILED` with the client's error as `cause`).
 */
export async function redisCall<T>(what: string, ms: number, run: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(run(), ms, what);
  } catch (error) {
    if (error instanceof CacheError) throw error;
    throw new CacheError(cacheErrorCodes.redisFailed, `${what} failed`, { cause: error });
  }
}
