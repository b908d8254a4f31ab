/** Codes of the errors this package throws. */
export const storeErrorCodes = {
  unavailable: 'E_DB_UNAVAILABLE',
  invalidRow: 'E_DB_INVALID_ROW',
  /** A conditional write (`WriteCondition`) found the row absent or at another version. */
  preconditionFailed: 'E_DB_PRECONDITION_FAILED',
} as const;

/** A code from {@link storeErrorCodes}. */
export type StoreErrorCode = (typeof storeErrorCodes)[keyof typeof storeErrorCodes];

/** An error raised by the store; `cause` keeps the driver's error. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Postgres SQLSTATE classes that mean "the database cannot serve us right now". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;

/** True for errors that say the database is down, overloaded or too slow, not that a query is wrong. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code)) return true;
  if (typeof code === 'string' && /^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH)$/.test(code))
    return true;
  return /timeout|terminated|Connection ended|not queryable|ECONNREFUSED/i.test(error.message);
}
