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
