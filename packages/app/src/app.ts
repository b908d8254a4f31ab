import express, { type Express } from 'express';
import { pino } from 'pino';
import type { AppDeps } from './deps.ts';
import { createMetrics } from './metrics.ts';
import { errorHandler, notFound, rejectQuery, requireJson } from './middleware/errors.ts';
import { observeRequests } from './middleware/observe.ts';
import { opsRouter } from './routes/ops.ts';
import { usersRouter } from './routes/users.ts';

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
  app.use(observeRequests({ instance, metrics, logger }));
  if (deps.isDraining) {
    const isDraining = deps.isDraining;
    app.use((_req, res, next) => {
      // While draining, a request on a kept-alive connection is still answered, but the last one.
      if (isDraining()) res.setHeader('Connection', 'close');
      next();
    });
  }
  // The users API takes no query parameters; ops endpoints ignore them (cache busters of probes).
  app.use('/users', rejectQuery);
  // Bodies only where they are read, and only as JSON objects of bounded size.
  const json = [requireJson, express.json({ limit: BODY_LIMIT, strict: true })];
  // The hot route first: a read passes no other layer on its way.
  app.use(usersRouter(deps, json));
  app.use(opsRouter(deps, metrics));
  app.use(notFound);
  const onError =
    deps.onError ??
    ((error: unknown, { id, method, url }) =>
      logger.error({ err: error, reqId: id, method, url }, 'unexpected error'));
  app.use(errorHandler(onError));
  return app;
}
