/**
 * A TTL shortened by a random part of up to `fraction` of it: `ttlMs * (1 - fraction * random())`,
 * rounded, at least 1 ms. The result never exceeds `ttlMs`, so a configured TTL stays the bound
 * on staleness; entries filled in the same instant spread over the last `fraction` of it.
 * `random` returns a number in [0, 1) (`Math.random` unless a test gives its own).
 */
export function jitterTtl(ttlMs: number, fraction: number, random: () => number = Math.random) {
  if (fraction <= 0) return ttlMs;
  return Math.max(1, Math.round(ttlMs * (1 - fraction * random())));
}
