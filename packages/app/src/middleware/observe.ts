import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AppMetrics } from '../metrics.ts';

/** A client's `X-Request-Id` is kept when it looks like an id; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** When the request arrived (`performance.now()`), kept on the request itself. */
const STARTED_AT = Symbol('startedAt');

type TimedRequest = Request & { [STARTED_AT]: number };

/** The request id of a response, as sent in its `X-Request-Id` header. */
export function requestIdOf(res: Response): string {
  return String(res.getHeader('x-request-id') ?? '');
}

/** The route pattern a request matched (`/users/:id`), never its raw path: labels stay few. */
function routeOf(req: Request): string {
  if (!req.route) return 'unmatched';
  // Routes on the app itself (the users API) have no base: no string to build per request.
  return req.baseUrl === '' ? req.route.path : `${req.baseUrl}${req.route.path}`;
}

/**
 * Sets `X-Instance` and `X-Request-Id` on every response (and `Connection: close` while draining) and, once it is sent, observes its
 * duration by route, method, status and `X-Cache` tier (and logs it at `debug`). Kept lean: it
 * runs on every L1 hit, so it allocates no closure per request.
 */
export function observeRequests(options: {
  instance: string;
  metrics: AppMetrics;
  logger: Logger;
  /** True once the instance is shutting down: every answer then closes its connection. */
  isDraining?: () => boolean;
}): RequestHandler {
  const { instance, metrics, logger, isDraining } = options;

  function finished(this: Response): void {
    const req = this.req as TimedRequest;
    const ms = performance.now() - req[STARTED_AT];
    const route = routeOf(req);
    const tier = (this.getHeader('x-cache') as string | undefined) ?? 'none';
    metrics.observeRequest(req.method, route, this.statusCode, tier, ms / 1000);
    if (logger.isLevelEnabled('debug')) {
      const { method, originalUrl: url } = req;
      const line = { reqId: requestIdOf(this), method, url, route, status: this.statusCode, tier };
      logger.debug(
        { ...line, ms: Math.round(ms * 100) / 100 },
        `${method} ${url} ${this.statusCode}`,
      );
    }
  }

  return (req, res, next) => {
    (req as TimedRequest)[STARTED_AT] = performance.now();
    const given = req.headers['x-request-id'];
    const valid = typeof given === 'string' && REQUEST_ID.test(given);
    res.setHeader('X-Request-Id', valid ? given : randomUUID());
    res.setHeader('X-Instance', instance);
    // While draining, a request on a kept-alive connection is still answered, but the last one.
    if (isDraining?.()) res.setHeader('Connection', 'close');
    // on, not once: once would wrap the listener in a new closure per request.
    res.on('finish', finished);
    next();
  };
}
