import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AppMetrics } from '../metrics.ts';

/** A client's `X-Request-Id` is kept when it looks like an id; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A response being observed: when its request arrived (`performance.now()`), and by whom. */
interface Observed {
  readonly startedAt: number;
  readonly finished: (res: Response, ms: number) => void;
}

// Kept beside the response, not on it: a property added to every request or response gives V8
// objects of two shapes where Node and Express expect one, which cost the L1-hit route 3-4 % of
// its CPU in a profile here (a WeakMap entry: under 1 %). Entries go with their response.
const observed = new WeakMap<ServerResponse, Observed>();

// One subscriber for the process, however many apps it builds (tests build many): Node publishes
// on this channel when a response has been handed to the OS, the moment its 'finish' event
// fires, without a listener added to (and an array allocated on) every response.
let subscribed = false;
function subscribeOnce(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('http.server.response.finish', (message) => {
    const res = (message as { response: ServerResponse }).response;
    const entry = observed.get(res);
    if (entry !== undefined) entry.finished(res as Response, performance.now() - entry.startedAt);
  });
}

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
 * Sets `X-Instance` and `X-Request-Id` on every response (and `Connection: close` while
 * draining) and, once it is sent, observes its duration by route, method, status and `X-Cache`
 * tier (and logs it at `debug`). Kept lean: it runs on every L1 hit, so it allocates one small
 * record per request, no closure and no listener.
 */
export function observeRequests(options: {
  instance: string;
  metrics: AppMetrics;
  logger: Logger;
  /** True once the instance is shutting down: every answer then closes its connection. */
  isDraining?: () => boolean;
}): RequestHandler {
  const { instance, metrics, logger, isDraining } = options;

  function finished(res: Response, ms: number): void {
    const { req } = res;
    const route = routeOf(req);
    const tier = (res.getHeader('x-cache') as string | undefined) ?? 'none';
    metrics.observeRequest(req.method, route, res.statusCode, tier, ms / 1000);
    if (logger.isLevelEnabled('debug')) {
      const { method, originalUrl: url } = req;
      const line = { reqId: requestIdOf(res), method, url, route, status: res.statusCode, tier };
      logger.debug(
        { ...line, ms: Math.round(ms * 100) / 100 },
        `${method} ${url} ${res.statusCode}`,
      );
    }
  }

  subscribeOnce();
  return (req, res, next) => {
    observed.set(res, { startedAt: performance.now(), finished });
    const given = req.headers['x-request-id'];
    const valid = typeof given === 'string' && REQUEST_ID.test(given);
    res.setHeader('X-Request-Id', valid ? given : randomUUID());
    res.setHeader('X-Instance', instance);
    // While draining, a request on a kept-alive connection is still answered, but the last one.
    if (isDraining?.()) res.setHeader('Connection', 'close');
    next();
  };
}
