import { randomBytes } from 'node:crypto';

/**
 * A name no other test uses: `prefix-` and eight random characters of `[A-Za-z0-9_-]` (base64url),
 * e.g. `t-Xq3_9aZk`. A valid `CACHE_NAMESPACE`, cache key, user id and instance name alike, so that
 * tests sharing one Redis and one database keep out of each other's keys and rows.
 */
export function uniqueName(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('base64url')}`;
}
