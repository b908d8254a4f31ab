/** Tells queries whether they may go to the database; see {@link createBreaker}. */
export interface Breaker {
  /**
   * `'go'` (the database is believed up), `'probe'` (it was down; this query checks whether it is
   * back) or `'fail'` (it is down: fail at once instead of waiting for a timeout).
   */
  admit(): 'go' | 'probe' | 'fail';
  /** Reports how an admitted query ended: `true` ok, `false` the database was unavailable. */
  settle(admitted: 'go' | 'probe', ok: boolean): void;
}

/**
 * A circuit breaker around an unavailable database. After a query finds it unavailable, queries
 * fail at once for `retryIntervalMs`; then one query at a time is let through as a probe, and the
 * first that succeeds lets everything through again. A frozen database thus costs a few requests
 * a timeout each, not every request; recovery takes at most one interval after it is back.
 */
export function createBreaker(retryIntervalMs: number): Breaker {
  let downUntil = 0;
  let down = false;
  let probing = false;
  return {
    admit() {
      if (!down) return 'go';
      if (probing || Date.now() < downUntil) return 'fail';
      probing = true;
      return 'probe';
    },
    settle(admitted, ok) {
      if (admitted === 'probe') probing = false;
      if (ok) {
        down = false;
      } else {
        down = true;
        downUntil = Date.now() + retryIntervalMs;
      }
    },
  };
}
