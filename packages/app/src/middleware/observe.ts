import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { AppMetrics } from '../metrics.ts';

/** A client's `X-Request-Id` is kept when it looks like an id; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A response being observed: when its request arrived (`performance.now()`), and by whom. */
export interface Observed {
  readonly startedAt: number;
  readonly finished: (res: ServerResponse, ms: number, route: string | undefined) => void;
  /** The route pattern, when the request was answered before Express (which names it otherwise). */
  route: string | undefined;
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
    if (entry !== undefined) entry.finished(res, performance.now() - entry.startedAt, entry.route);
  });
}

/** The request id of a response, as sent in its `X-Request-Id` header. */
export function requestIdOf(res: ServerResponse): string {
  return String(res.getHeader('x-request-id') ?? '');
}

/** The route pattern Express matched (`/users/:id`), never the raw path: labels stay few. */
function routeOf(req: Partial<Request>): string {
  if (!req.route) return 'unmatched';
  // Routes on the app itself (the users API) have no base: no string to build per request.
  return req.baseUrl === '' ? req.route.path : `${req.baseUrl}${req.route.path}`;
}

/**
 * Builds the server's first step for every request, before Express: it sets `X-Instance` and
 * `X-Request-Id` (and `Connection: close` while draining) and, once the response is sent,
 * observes its duration by route, method, status and `X-Cache` tier (and logs it at `debug`).
 * Returns the request's record, whose `route` a handler outside Express sets. Kept lean: it runs
 * on every L1 hit, so it allocates one small record per request, no closure and no listener.
 */
export function observeRequests(options: {
  instance: string;
  metrics: AppMetrics;
  logger: Logger;
  /** True once the instance is shutting down: every answer then closes its connection. */
  isDraining?: () => boolean;
}): (req: IncomingMessage, res: ServerResponse) => Observed {
  const { instance, metrics, logger, isDraining } = options;

  function finished(res: ServerResponse, ms: number, answeredAs: string | undefined): void {
    // Express's fields, on the requests it routed.
    const req = res.req as IncomingMessage & Partial<Request>;
    const route = answeredAs ?? routeOf(req);
    const tier = (res.getHeader('x-cache') as string | undefined) ?? 'none';
    metrics.observeRequest(req.method ?? '', route, res.statusCode, tier, ms / 1000);
    if (logger.isLevelEnabled('debug')) {
      const { method } = req;
      const url = req.originalUrl ?? req.url;
      const line = { reqId: requestIdOf(res), method, url, route, status: res.statusCode, tier };
      logger.debug(
        { ...line, ms: Math.round(ms * 100) / 100 },
        `${method} ${url} ${res.statusCode}`,
      );
    }
  }

  subscribeOnce();
  return (req, res) => {
    const entry: Observed = { startedAt: performance.now(), finished, route: undefined };
    observed.set(res, entry);
    const given = req.headers['x-request-id'];
    const valid = typeof given === 'string' && REQUEST_ID.test(given);
    res.setHeader('X-Request-Id', valid ? given : randomUUID());
    res.setHeader('X-Instance', instance);
    // While draining, a request on a kept-alive connection is still answered, but the last one.
    if (isDraining?.()) res.setHeader('Connection', 'close');
    return entry;
  };
}
