import { createServer as createHttpServer, type Server } from 'node:http';
import express from 'express';
import { pino } from 'pino';
import type { AppDeps, RequestInfo } from './deps.ts';
import { createMetrics } from './metrics.ts';
import {
  answerError,
  errorHandler,
  notFound,
  requireJson,
  verifyBody,
} from './middleware/errors.ts';
import { observeRequests } from './middleware/observe.ts';
import { opsRouter } from './routes/ops.ts';
import { addUserRoutes, USER_ROUTE } from './routes/users.ts';
import { answerClientError, refuseConnect } from './server-answers.ts';

/** Largest request body accepted; a user is a few hundred bytes. */
const BODY_LIMIT = '16kb';

/**
 * Builds one instance's HTTP server (without listening): the users API and the ops endpoints.
 * Every request is observed first; an L1 hit of `GET /users/:id` is then answered at once, and
 * anything else goes to the Express app. CONNECT and bytes Node's parser refuses are answered in
 * the API's error shape too.
 */
export function createServer(deps: AppDeps): Server {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const metrics = deps.metrics ?? createMetrics();
  metrics.collectFrom(deps);
  const instance = `${deps.instance.name}/${deps.instance.id}`;
  const onError =
    deps.onError ??
    ((error: unknown, { id, method, url }: RequestInfo) =>
      logger.error({ err: error, reqId: id, method, url }, 'unexpected error'));

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Bodies only where they are read, as JSON of bounded size. Not `strict`: that would call a
  // valid `null` or `42` invalid JSON; the routes' validation says the body must be an object. Not
  // `inflate`: a body with a Content-Encoding (gzip, …) is a 415, as in the Python and Go instances.
  const json = [
    requireJson,
    express.json({ limit: BODY_LIMIT, strict: false, inflate: false, verify: verifyBody }),
  ];
  const answerFromL1 = addUserRoutes(app, deps, json, onError);
  app.use(opsRouter(deps, metrics));
  app.use(notFound);
  app.use(errorHandler(onError));

  const observe = observeRequests({ instance, metrics, logger, isDraining: deps.isDraining });
  // Express's router costs an L1 hit more CPU than the cache does (matching, `next`, prototypes):
  // the hit is answered before it, by the route's own code.
  const server = createHttpServer((req, res) => {
    try {
      const observed = observe(req, res);
      if (answerFromL1(req, res)) observed.route = USER_ROUTE;
      else app(req, res);
    } catch (error) {
      // A bug before Express caught it: a 500 as Express would give, never an uncaught throw.
      if (res.headersSent) res.destroy(error as Error);
      else answerError(error, req, res, onError);
    }
  });
  server.on('connect', refuseConnect(instance));
  server.on('clientError', answerClientError(instance));
  return server;
}
