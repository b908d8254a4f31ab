export type { DataDirLock } from './data-dir-lock.ts';
export { DataDirLockedError, LOCK_FILE, lockDataDir, lockHolder } from './data-dir-lock.ts';
export type { EmbeddedDatabase, EmbeddedDatabaseOptions, StopOptions } from './embedded.ts';
export { startEmbeddedDatabase } from './embedded.ts';
export type { StoreErrorCode } from './errors.ts';
export { isUnavailable, StoreError, storeErrorCodes } from './errors.ts';
export type { PoolOptions } from './pool.ts';
export { createPool } from './pool.ts';
export type { Queryable } from './queryable.ts';
export { prepareDatabase } from './schema.ts';
export type {
  PutResult,
  QueryEvent,
  QueryOperation,
  StoreStats,
  UserInput,
  UserRecord,
  UsersRepository,
  WriteCondition,
} from './types.ts';
export type { UsersRepositoryOptions } from './users-repository.ts';
export { createUsersRepository } from './users-repository.ts';
