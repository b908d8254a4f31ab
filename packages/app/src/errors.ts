/**
 * The stable codes of the errors the HTTP API answers with, in `{ error: { code, message } }`. Their
 * statuses and meanings are the catalogue in docs/http-api.md ("Errors"), which a test keeps in step.
 */
export const appErrorCodes = {
  invalidId: 'E_INVALID_ID',
  invalidBody: 'E_INVALID_BODY',
  invalidJson: 'E_INVALID_JSON',
  invalidHeader: 'E_INVALID_HEADER',
  invalidQuery: 'E_INVALID_QUERY',
  bodyTooLarge: 'E_BODY_TOO_LARGE',
  headersTooLarge: 'E_HEADERS_TOO_LARGE',
  unsupportedMediaType: 'E_UNSUPPORTED_MEDIA_TYPE',
  badRequest: 'E_BAD_REQUEST',
  userNotFound: 'E_USER_NOT_FOUND',
  versionUnavailable: 'E_VERSION_UNAVAILABLE',
  preconditionFailed: 'E_PRECONDITION_FAILED',
  routeNotFound: 'E_ROUTE_NOT_FOUND',
  methodNotAllowed: 'E_METHOD_NOT_ALLOWED',
  databaseUnavailable: 'E_DB_UNAVAILABLE',
  overloaded: 'E_OVERLOADED',
  internal: 'E_INTERNAL',
} as const;

/** A code from {@link appErrorCodes}. */
export type AppErrorCode = (typeof appErrorCodes)[keyof typeof appErrorCodes];

/** An error that maps to one HTTP response: its status, a stable code and a message for clients. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: AppErrorCode;

  constructor(status: number, code: AppErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}
