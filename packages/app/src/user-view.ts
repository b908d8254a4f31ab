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

const USER_KEY = /^user:[A-Za-z0-9_-]{1,64}$/;

/** Whether `key` is the cache key of a valid user id (an outbox row the relay may announce). */
export function isUserKey(key: string): boolean {
  return USER_KEY.test(key);
}

/** The cache key of a user id. */
export function userKey(id: string): string {
  return `user:${id}`;
}
