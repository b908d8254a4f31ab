export type { DataDirLock } from './data-dir-lock.ts';
export { DataDirLockedError, LOCK_FILE, lockDataDir, lockHolder } from './data-dir-lock.ts';
// The embedded PGlite server is not exported here: it is `@cachelab/store/embedded`, so that an
// instance talking to a database over the network never loads PGlite (about 50 MiB of RSS).
export type { StoreErrorCode } from './errors.ts';
export { isUnavailable, StoreError, storeErrorCodes } from './errors.ts';
export type {
  OutboxEntry,
  OutboxRelay,
  OutboxRelayOptions,
  OutboxRelayStats,
} from './outbox-relay.ts';
export { createOutboxRelay } from './outbox-relay.ts';
export type { PoolOptions } from './pool.ts';
export { createPool } from './pool.ts';
export type { Queryable } from './queryable.ts';
export {
  OUTBOX_CHANNEL,
  prepareDatabase,
  USER_KEY_PREFIX,
  WAKE_RELAY_SETTING,
} from './schema.ts';
export { type TrackTableOptions, tableKey, trackTable, trackTableSql } from './track-table.ts';
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
