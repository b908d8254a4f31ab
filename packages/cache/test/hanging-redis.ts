import type { RedisLike } from '../src/index.ts';

/**
 * A stand-in for a Redis that accepts commands and never answers (a frozen server), for unit
 * tests of the timeouts; fault tests with a real server use a TCP proxy or SIGSTOP instead.
 */
export function hangingRedis(): RedisLike {
  const never = () => new Promise<never>(() => {});
  return { get: never, set: never, del: never, evalSha: never, eval: never, publish: never };
}
