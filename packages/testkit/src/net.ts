import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A URL where nothing listens, for tests of "no instance answered". Unlike a port that was free a
 * moment ago, port 1023 cannot be taken meanwhile by another test's process: it lies below the
 * ephemeral range that {@link freePort} and `listen(0)` draw from, and fetch does not refuse it
 * (as it does port 1).
 */
export const NOTHING_LISTENS_URL = 'http://127.0.0.1:1023';

/** Whether `port` on 127.0.0.1 can be bound now (nothing holds it). */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Redis Cluster nodes also listen on their cluster bus port, `port + 10000`, and refuse to start
 * above 55535. A free port below that whose bus port is free too.
 */
export async function freeClusterNodePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port <= 55_535 && (await canBind(port + 10_000))) return port;
  }
  throw new Error('no free port with a free cluster bus port (port + 10000)');
}
