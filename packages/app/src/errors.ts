/** Stable codes of the errors the HTTP API returns in `{ error: { code, message } }`. */
export const errorCodes = {
  invalidId: 'E_INVALID_ID',
  invalidBody: 'E_INVALID_BODY',
  invalidJson: 'E_INVALID_JSON',
  invalidHeader: 'E_INVALID_HEADER',
  invalidQuery: 'E_INVALID_QUERY',
  bodyTooLarge: 'E_BODY_TOO_LARGE',
  unsupportedMediaType: 'E_UNSUPPORTED_MEDIA_TYPE',
  badRequest: 'E_BAD_REQUEST',
  userNotFound: 'E_USER_NOT_FOUND',
  versionUnavailable: 'E_VERSION_UNAVAILABLE',
  preconditionFailed: 'E_PRECONDITION_FAILED',
  routeNotFound: 'E_ROUTE_NOT_FOUND',
  methodNotAllowed: 'E_METHOD_NOT_ALLOWED',
  databaseUnavailable: 'E_DB_UNAVAILABLE',
  overloaded: 'E_OVERLOADED',
  shuttingDown: 'E_SHUTTING_DOWN',
  internal: 'E_INTERNAL',
} as const;

/** A code from {@link errorCodes}. */
export type ErrorCode = (typeof errorCodes)[keyof typeof errorCodes];

/** An error that maps to one HTTP response: its status, a stable code and a message for clients. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;

  constructor(status: number, code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}
