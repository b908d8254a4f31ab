import { createRequire } from 'node:module';
import type Pg from 'pg';

/**
 * node-postgres (`pg`), loaded without Node.js's fetch implementation. When it loads, pg asks
 * whether it runs in Cloudflare Workers: by `navigator.userAgent` where there is a `navigator`
 * (Node.js 21 and later), else by constructing a `Response`, which in Node.js 20 loads undici,
 * Node's whole fetch implementation: about 10 MiB of RSS in a process that never fetches. Where
 * `navigator` is missing, one naming Node.js stands in while pg loads and is removed right after;
 * pg then makes the same choice as before (Node.js sockets), without the `Response`.
 */
export const pg: typeof Pg = loadPg();

function loadPg(): typeof Pg {
  const require = createRequire(import.meta.url);
  if ('navigator' in globalThis) return require('pg');
  Object.defineProperty(globalThis, 'navigator', {
    value: { userAgent: `Node.js/${process.versions.node}` },
    configurable: true,
  });
  try {
    return require('pg');
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}
