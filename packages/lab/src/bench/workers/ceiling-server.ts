/**
 * The ceiling of the HTTP benchmark: an Express 5 route that answers a constant user from a `Map`,
 * with the instance's Express settings (no ETag, no X-Powered-By) and nothing else: what serving
 * from memory costs an Express app with nothing of its own to do. The instance answers an L1 hit
 * before its Express router (`packages/app/src/app.ts`), so it may cost less than this.
 */
import express from 'express';

const input = JSON.parse(process.argv[2] ?? '{}') as { port: number; body: unknown };
const users = new Map([['1', input.body]]);

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/users/:id', (req, res) => {
  res.json(users.get(req.params.id) ?? users.get('1'));
});
app.listen(input.port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
