/**
 * The second ceiling of the HTTP benchmark: `node:http` alone answering the same user body with
 * the headers `res.json` sends (`Content-Type`, `Content-Length`), no framework, no headers of
 * its own. Since the instance answers an L1 hit before its Express router, this is the ceiling
 * that shows what the rest of the instance costs: the request observer, validation, the L1 read
 * and five more headers.
 */
import { createServer } from 'node:http';

const input = JSON.parse(process.argv[2] ?? '{}') as { port: number; body: unknown };
const body = JSON.stringify(input.body);

createServer((_req, res) => {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(body);
}).listen(input.port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
