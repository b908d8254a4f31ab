import express, { type Express } from 'express';
import type { AppDeps } from './deps.ts';
import { errorHandler, notFound, requireJson } from './middleware/errors.ts';
import { opsRouter } from './routes/ops.ts';
import { usersRouter } from './routes/users.ts';

/** Largest request body accepted; a user is a few hundred bytes. */
const BODY_LIMIT = '16kb';

/** Builds one instance's Express app (without listening): the users API and the ops endpoints. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const instance = `${deps.instance.name}/${deps.instance.id}`;
  app.use((_req, res, next) => {
    res.setHeader('X-Instance', instance);
    next();
  });
  // Bodies only where they are read, and only as JSON objects of bounded size.
  const json = [requireJson, express.json({ limit: BODY_LIMIT, strict: true })];
  // The hot route first: a read passes no other layer on its way.
  app.use(usersRouter(deps, json));
  app.use(opsRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.onError ?? ((error) => console.error(error))));
  return app;
}
