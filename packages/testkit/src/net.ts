import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port handed out: below it lie well-known and registered services' usual ports. */
const LOWEST_PORT = 10_000;
/** A Redis Cluster node's bus port lies this far above its port. */
const CLUSTER_BUS_OFFSET = 10_000;
/** Redis refuses a cluster node port whose bus port would exceed 65535. */
const HIGHEST_CLUSTER_NODE_PORT = 65_535 - CLUSTER_BUS_OFFSET;
/** Used when the kernel's range cannot be read (not Linux): Linux's default. */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32_768, 60_999];

/**
 * The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`): the local ports of
 * outgoing connections and of `listen(0)` come from it, so a server started on a port inside it
 * can find the port held by somebody's connection.
 */
export function ephemeralPortRange(): readonly [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low as number, high as number];
  } catch {
    // Not Linux: assume its default.
  }
  return DEFAULT_EPHEMERAL;
}

// Ports this process handed out recently: two servers a test starts one after the other must not
// be given the same port before the first has bound it.
const handedOut = new Set<number>();
const HANDED_OUT_LIMIT = 4_096;

/**
 * A random port in `[low, high]` outside the ephemeral range that nothing listened on a moment
 * ago and that this process has not handed out recently. Random rather than sequential, so that
 * the test files vitest runs in parallel processes rarely try the same port.
 */
async function freePortIn(
  low: number,
  high: number,
  accept: (port: number) => Promise<boolean> = canBind,
): Promise<number> {
  const [ephemeralLow, ephemeralHigh] = ephemeralPortRange();
  const candidates = (
    [
      [low, Math.min(high, ephemeralLow - 1)],
      [Math.max(low, ephemeralHigh + 1), high],
    ] as const
  ).filter(([a, b]) => a <= b);
  const size = candidates.reduce((sum, [a, b]) => sum + b - a + 1, 0);
  if (size === 0) throw new Error(`no port in ${low}-${high} lies outside the ephemeral range`);
  for (let attempt = 0; attempt < 200; attempt++) {
    let index = Math.floor(Math.random() * size);
    let port = 0;
    for (const [a, b] of candidates) {
      if (index <= b - a) {
        port = a + index;
        break;
      }
      index -= b - a + 1;
    }
    if (handedOut.has(port) || !(await accept(port))) continue;
    if (handedOut.size >= HANDED_OUT_LIMIT) handedOut.clear();
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${low}-${high} outside the ephemeral range after 200 tries`);
}

/**
 * A TCP port on 127.0.0.1 that nothing listened on a moment ago, outside the kernel's ephemeral
 * range ({@link ephemeralPortRange}), for a server a test or the lab starts in another process.
 */
export function freePort(): Promise<number> {
  return freePortIn(LOWEST_PORT, 65_535);
}

/**
 * A URL where nothing listens, for tests of "no instance answered". Unlike a port that was free a
 * moment ago, port 1023 cannot be taken meanwhile by another test's process: it lies below the
 * ranges that {@link freePort} and `listen(0)` draw from, and fetch does not refuse it
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
 * above 55535. A free port below that whose bus port is free too, both outside the ephemeral
 * range.
 */
export function freeClusterNodePort(): Promise<number> {
  const [low, high] = ephemeralPortRange();
  return freePortIn(LOWEST_PORT, HIGHEST_CLUSTER_NODE_PORT, async (port) => {
    const bus = port + CLUSTER_BUS_OFFSET;
    return (bus < low || bus > high) && (await canBind(port)) && (await canBind(bus));
  });
}
