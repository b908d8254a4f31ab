import express, { type Express } from 'express';
import { pino } from 'pino';
import type { AppDeps } from './deps.ts';
import { createMetrics } from './metrics.ts';
import { errorHandler, notFound, requireJson, verifyBody } from './middleware/errors.ts';
import { observeRequests } from './middleware/observe.ts';
import { opsRouter } from './routes/ops.ts';
import { addUserRoutes } from './routes/users.ts';

/** Largest request body accepted; a user is a few hundred bytes. */
const BODY_LIMIT = '16kb';

/** Builds one instance's Express app (without listening): the users API and the ops endpoints. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const logger = deps.logger ?? pino({ level: 'silent' });
  const metrics = deps.metrics ?? createMetrics();
  metrics.collectFrom(deps);
  const instance = `${deps.instance.name}/${deps.instance.id}`;
  app.use(observeRequests({ instance, metrics, logger, isDraining: deps.isDraining }));
  // Bodies only where they are read, as JSON of bounded size. Not `strict`: that would call a
  // valid `null` or `42` invalid JSON; the routes' validation says the body must be an object. Not
  // `inflate`: a body with a Content-Encoding (gzip, …) is a 415, as in the Python and Go instances.
  const json = [
    requireJson,
    express.json({ limit: BODY_LIMIT, strict: false, inflate: false, verify: verifyBody }),
  ];
  // The hot route first, on the app itself rather than a nested router: an L1-hit read passes
  // one middleware and its route, nothing else.
  addUserRoutes(app, deps, json);
  app.use(opsRouter(deps, metrics));
  app.use(notFound);
  const onError =
    deps.onError ??
    ((error: unknown, { id, method, url }) =>
      logger.error({ err: error, reqId: id, method, url }, 'unexpected error'));
  app.use(errorHandler(onError));
  return app;
}
