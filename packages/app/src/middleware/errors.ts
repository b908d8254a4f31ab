import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CacheError, VersionUnavailableError } from '@cachelab/cache';
import { StoreError } from '@cachelab/store';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { RequestInfo } from '../deps.ts';
import { type AppErrorCode, appErrorCodes, HttpError } from '../errors.ts';
import { requestIdOf } from './observe.ts';

/** Errors raised by `express.json()` (body-parser), by their `type`. */
const BODY_PARSER_ERRORS: Record<string, [number, AppErrorCode]> = {
  'entity.parse.failed': [400, appErrorCodes.invalidJson],
  'entity.too.large': [413, appErrorCodes.bodyTooLarge],
  'encoding.unsupported': [415, appErrorCodes.unsupportedMediaType],
  'charset.unsupported': [415, appErrorCodes.unsupportedMediaType],
  // Raised by verifyBody below, before the bytes are decoded.
  'entity.not.utf8': [415, appErrorCodes.unsupportedMediaType],
  'entity.byte.order.mark': [400, appErrorCodes.invalidJson],
};

/**
 * `express.json`'s `verify`: looks at the body's bytes before they are decoded, which would turn
 * bytes that are not UTF-8 into U+FFFD (a stored name quietly changed) and drop a byte-order mark.
 * Both are refused, as the Python and Go instances refuse them: 415 for bytes that are not UTF-8,
 * 400 `E_INVALID_JSON` for a leading byte-order mark (RFC 8259 §8.1: JSON text has none).
 */
export function verifyBody(_req: unknown, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) {
    throw Object.assign(new Error('the body is not valid UTF-8'), { type: 'entity.not.utf8' });
  }
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    throw Object.assign(new Error('the body starts with a byte-order mark; JSON has none'), {
      type: 'entity.byte.order.mark',
    });
  }
}

/** Answers every unmatched route with a JSON 404. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, appErrorCodes.routeNotFound, `no route for ${req.method} ${req.path}`));
};

/**
 * Answers a method a path has no route for with a JSON 405 and `Allow: <methods>, OPTIONS`, and
 * OPTIONS with a 204 and the same header. Mount it with
 * `router.all(path, …)` after that path's routes, so that it only sees the methods they left.
 */
export function methodNotAllowed(methods: readonly string[]): RequestHandler {
  const allow = [...methods, 'OPTIONS'].join(', ');
  return (req, res, next) => {
    res.set('Allow', allow);
    // OPTIONS asks what the path allows (RFC 9110 §9.3.7): the answer is the header alone.
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next(
      new HttpError(
        405,
        appErrorCodes.methodNotAllowed,
        `${req.method} is not allowed on ${req.path}; allowed: ${allow}`,
      ),
    );
  };
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/**
 * Requires `Content-Type: application/json` (UTF-8, as RFC 8259 says) on requests with a body,
 * and no `Content-Encoding` but `identity`: an empty one too is a 415, as in the Python and Go
 * instances (body-parser would read an empty one as `identity`).
 */
export const requireJson: RequestHandler = (req, _res, next) => {
  const charset = CHARSET.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase() ?? 'utf-8';
  if (!req.is('application/json') || charset !== 'utf-8') {
    next(
      new HttpError(
        415,
        appErrorCodes.unsupportedMediaType,
        'send the body as application/json in UTF-8',
      ),
    );
    return;
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    next(
      new HttpError(
        415,
        appErrorCodes.unsupportedMediaType,
        `send the body without a Content-Encoding (got "${encoding.slice(0, 32)}")`,
      ),
    );
    return;
  }
  next();
};

/**
 * Throws a 400 `E_INVALID_QUERY` when `req` has a query string: no route of the users API takes
 * one, so any is a client mistake.
 */
export function assertNoQuery(req: Request): void {
  // Most requests have no query string at all: no need to parse one.
  if (!req.url.includes('?')) return;
  const names = Object.keys(req.query);
  if (names.length === 0) return;
  const shown = names.slice(0, 3).map((name) => JSON.stringify(name.slice(0, 32)));
  throw new HttpError(
    400,
    appErrorCodes.invalidQuery,
    `no query parameters here; got ${shown.join(', ')}`,
  );
}

/** {@link assertNoQuery} as a middleware. */
export const rejectQuery: RequestHandler = (req, _res, next) => {
  assertNoQuery(req);
  next();
};

/**
 * Answers `error` as `{ error: { code, message } }` with the right status and tells `onError` of
 * a bug (a 500). For Express's routes and for what the server answers before Express alike. On
 * the wire it is what `res.status(…).json(…)` sent: the same status, body, `Content-Type` (set
 * here, whatever an earlier step set) and `Content-Length`, on a HEAD too, and the headers
 * already set (`X-Cache`, `Age`) kept.
 */
export function answerError(
  error: unknown,
  req: IncomingMessage & { originalUrl?: string },
  res: ServerResponse,
  onError: (error: unknown, request: RequestInfo) => void,
): void {
  const http = toHttpError(error);
  if (http.status >= 500 && http.code === appErrorCodes.internal) {
    onError(error, {
      id: requestIdOf(res),
      method: req.method ?? '',
      url: req.originalUrl ?? req.url ?? '',
    });
  }
  if (http.status === 503) res.setHeader('Retry-After', '1');
  const body = JSON.stringify({ error: { code: http.code, message: http.message } });
  res.statusCode = http.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // A HEAD gets the headers alone: Node writes no body for it.
  res.end(body);
}

/** Maps any error to `{ error: { code, message } }` with the right status; only bugs are 500s. */
export function errorHandler(
  onError: (error: unknown, request: RequestInfo) => void,
): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    answerError(error, req, res, onError);
  };
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof StoreError && error.code === 'E_DB_UNAVAILABLE') {
    return new HttpError(
      503,
      appErrorCodes.databaseUnavailable,
      'the database is unavailable; retry shortly',
    );
  }
  if (error instanceof StoreError && error.code === 'E_DB_PRECONDITION_FAILED') {
    // If-Match named versions the row was not at when the write ran (checked by the write itself).
    return new HttpError(
      412,
      appErrorCodes.preconditionFailed,
      'the user is not at a version If-Match names (changed or deleted meanwhile); read it again',
    );
  }
  if (error instanceof CacheError && error.code === 'E_OVERLOADED') {
    return new HttpError(
      503,
      appErrorCodes.overloaded,
      'too many database loads in flight; retry shortly',
    );
  }
  if (error instanceof VersionUnavailableError) {
    // A precondition of the request (X-Min-Version) that the database itself, read afresh, does
    // not meet: not a fault of this instance (no 503) and not worth retrying, since versions come
    // from the database and it never issued that one.
    const held = error.version === 0 ? 'no version' : `version ${error.version}`;
    return new HttpError(
      412,
      appErrorCodes.versionUnavailable,
      `the database holds ${held} of this user, below X-Min-Version ${error.minVersion}`,
    );
  }
  if (error instanceof CacheError && error.code === 'E_INVALID_KEY') {
    return new HttpError(400, appErrorCodes.badRequest, error.message);
  }
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  const known = typeof type === 'string' ? BODY_PARSER_ERRORS[type] : undefined;
  if (known) return new HttpError(known[0], known[1], (error as Error).message);
  // Other client errors raised by Express itself, such as a malformed percent-encoding in the path.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, appErrorCodes.badRequest, 'the request could not be understood');
  }
  return new HttpError(500, appErrorCodes.internal, 'internal error');
}
