import type { UserRecord } from '@cachelab/store';

/** A user as the API returns it and the cache stores it (tombstones are never shown). */
export interface UserBody {
  id: string;
  name: string;
  email: string;
  age: number;
  version: number;
  updatedAt: string;
}

/** Maps a live database row to its API body. */
export function toUserBody(user: UserRecord): UserBody {
  const { id, name, email, age, version, updatedAt } = user;
  return { id, name, email, age, version, updatedAt };
}

/** The cache key of a user id. */
export function userKey(id: string): string {
  return `user:${id}`;
}
