import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { StatsResponse } from '@cachelab/app';
import { freePort, waitFor } from '@cachelab/testkit';
import { spawnWorker } from '../child.ts';
import { runLoad } from '../load.ts';
import type { BenchInstance, BenchServices } from '../services.ts';
import { cpuMicros, retryOnPortClash, startInstances } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { type Spread, spread } from '../stats.ts';
import type { LoadInput, LoadResult } from '../workers/load.ts';

/** One thing measured over HTTP. */
interface Target {
  name: string;
  what: string;
  env?: Record<string, string>;
  path: LoadInput['path'];
}

/** Results of one target over every round. */
export interface HttpRow {
  name: string;
  what: string;
  requestsPerSecond: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  /** CPU time the server process used per request (user + system), in µs. */
  cpuMicrosPerRequest: Spread;
  /** Which tier answered, as shares of the reads the instance counted (verifies the row). */
  served: { L1: number; L2: number; MISS: number } | null;
  /** Database queries per request over the measured runs. */
  dbQueriesPerRequest: number | null;
  errors: number;
}

/** The HTTP section's results. */
export interface HttpResults {
  rows: HttpRow[];
  /** Median over rounds of (L1-hit requests/s ÷ ceiling requests/s) in the same round. */
  l1VersusCeiling: Spread;
  /** The same from CPU per request (ceiling's ÷ L1-hit's): what a saturated core would give. */
  l1VersusCeilingByCpu: Spread;
  /** Median over rounds of (L1-hit CPU per request ÷ `ceiling-node`'s), `node:http` alone. */
  l1OverNodeByCpu: Spread;
}

const HOT = { kind: 'fixed', path: '/users/1' } as const;

function targets(settings: BenchSettings): Target[] {
  const slow = String(settings.http.slowDbLatencyMs);
  const cycle = { kind: 'cycle', ids: settings.seedUsers } as const;
  // Every request a different id, and every cached copy gone within 1 ms: each read misses.
  const missEnv = { CACHE_TTL_MS: '1', NEGATIVE_TTL_MS: '1', L1_TTL_MS: '1' };
  return [
    { name: 'ceiling', what: 'Express 5 route, constant object from a Map', path: HOT },
    { name: 'ceiling-node', what: 'node:http alone, constant body, no framework', path: HOT },
    { name: 'l1-hit', what: 'versioned, L1 hit (one hot key)', path: HOT },
    {
      name: 'l2-hit',
      what: 'versioned, L1 disabled (L1_MAX_ENTRIES=0): pointer+data Lua read',
      env: { L1_MAX_ENTRIES: '0' },
      path: HOT,
    },
    {
      name: 'seed-design',
      what: 'Redis only, no L1 (ttl-only strategy): one GET',
      env: { CACHE_STRATEGY: 'ttl-only' },
      path: HOT,
    },
    {
      name: 'miss-db-0ms',
      what: 'versioned, every read a miss, DB_LATENCY_MS=0',
      env: missEnv,
      path: cycle,
    },
    {
      name: `miss-db-${slow}ms`,
      what: `versioned, every read a miss, DB_LATENCY_MS=${slow}`,
      env: { ...missEnv, DB_LATENCY_MS: slow },
      path: cycle,
    },
    {
      name: 'no-cache-db-0ms',
      what: 'no cache (none strategy), DB_LATENCY_MS=0',
      env: { CACHE_STRATEGY: 'none' },
      path: HOT,
    },
    {
      name: `no-cache-db-${slow}ms`,
      what: `no cache (none strategy), DB_LATENCY_MS=${slow}`,
      env: { CACHE_STRATEGY: 'none', DB_LATENCY_MS: slow },
      path: HOT,
    },
  ];
}

function load(settings: BenchSettings, urls: string[], path: LoadInput['path'], seconds: number) {
  return runLoad({ urls, connections: settings.http.connections, durationSeconds: seconds, path });
}

/** The ceilings: an Express 5 route (`ceiling`) and `node:http` alone (`ceiling-node`). */
const CEILINGS = { ceiling: 'ceiling-server', 'ceiling-node': 'ceiling-node-server' } as const;
type CeilingName = keyof typeof CEILINGS;
const isCeiling = (name: string): name is CeilingName => Object.hasOwn(CEILINGS, name);

/** Starts a ceiling server with `body` as its user and waits until it answers. */
export async function startCeiling(
  body: unknown,
  nodeArgs: string[] = [],
  name: CeilingName = 'ceiling',
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const { child, url } = await retryOnPortClash(async () => {
    const port = await freePort();
    const child = spawnWorker(CEILINGS[name], { port, body }, { timeoutMs: 0, nodeArgs });
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    const url = `http://127.0.0.1:${port}`;
    const ready = waitFor(async () => (await fetch(`${url}/users/1`)).ok, {
      timeoutMs: 30_000,
      what: 'the ceiling server',
    });
    const exited = once(child, 'exit').then(() => {
      throw new Error(`the ceiling server exited before it was ready: ${stderr}`);
    });
    exited.catch(() => {});
    await Promise.race([ready, exited]);
    return { child, url };
  });
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Stats once the requests still in flight when the load stopped (autocannon does not wait for
 * them) have finished: two reads 50 ms apart that agree.
 */
async function settledStats(instance: BenchInstance): Promise<StatsResponse> {
  let last = await instance.stats();
  for (let i = 0; i < 40; i++) {
    await delay(50);
    const next = await instance.stats();
    if (next.cache.reads === last.cache.reads && next.database.queries === last.database.queries) {
      return next;
    }
    last = next;
  }
  return last;
}

function delta(before: StatsResponse, after: StatsResponse) {
  const reads = after.cache.reads - before.cache.reads;
  const share = (n: number) => (reads === 0 ? 0 : n / reads);
  return {
    reads,
    served: {
      L1: share(after.cache.l1Hits - before.cache.l1Hits),
      L2: share(after.cache.l2Hits - before.cache.l2Hits),
      MISS: share(after.cache.misses - before.cache.misses),
    },
    queries: after.database.queries - before.database.queries,
  };
}

/**
 * Requests/s and latency per instance for every target, measured in rounds: each round loads
 * every target once, in turn, so that a noisy neighbour slows all of them alike.
 */
export async function runHttp(
  settings: BenchSettings,
  services: BenchServices,
  log: (line: string) => void,
): Promise<HttpResults> {
  const list = targets(settings);
  const instanceTargets = list.filter((t) => !isCeiling(t.name));
  const instances = await startInstances(
    services,
    instanceTargets.map((t, i) => ({
      INSTANCE_NAME: `bench-${i + 1}`,
      CACHE_NAMESPACE: `bench-http-${t.name}`,
      DB_LATENCY_MS: '0',
      SEED_USERS: String(settings.seedUsers),
      ...t.env,
    })),
  );
  const byName = new Map<string, BenchInstance>(
    instanceTargets.map((t, i) => [t.name, instances[i] as BenchInstance]),
  );
  const l1 = byName.get('l1-hit') as BenchInstance;
  // Warm the hot key, and give the ceiling the very body the instance answers with.
  for (const instance of instances) await fetch(`${instance.url}/users/1`);
  const body = await (await fetch(`${l1.url}/users/1`)).json();
  const ceilings = new Map<string, Awaited<ReturnType<typeof startCeiling>>>();
  const server = (t: Target) => ceilings.get(t.name) ?? (byName.get(t.name) as BenchInstance);
  const pidOf = (t: Target) => server(t).child.pid;
  const urlOf = (t: Target) => server(t).url;
  try {
    // Inside the try: a ceiling that fails to start still leaves the others and the instances
    // stopped by the finally below.
    for (const name of Object.keys(CEILINGS) as CeilingName[]) {
      ceilings.set(name, await startCeiling(body, [], name));
    }
    if (settings.http.warmupSeconds > 0) {
      for (const t of list) await load(settings, [urlOf(t)], t.path, settings.http.warmupSeconds);
    }
    const runs = new Map<string, LoadResult[]>();
    const cpu = new Map<string, number[]>();
    const counted = new Map<
      string,
      { reads: number; served: HttpRow['served']; queries: number }[]
    >();
    for (let round = 1; round <= settings.http.rounds; round++) {
      for (const t of list) {
        const instance = byName.get(t.name);
        const before = await instance?.stats();
        const cpuBefore = await cpuMicros(pidOf(t));
        const result = await load(settings, [urlOf(t)], t.path, settings.http.durationSeconds);
        const after = instance && (await settledStats(instance));
        const cpuUsed = (await cpuMicros(pidOf(t))) - cpuBefore;
        cpu.set(t.name, [...(cpu.get(t.name) ?? []), cpuUsed / Math.max(1, result.requests)]);
        runs.set(t.name, [...(runs.get(t.name) ?? []), result]);
        if (before && after)
          counted.set(t.name, [...(counted.get(t.name) ?? []), delta(before, after)]);
        log(
          `  round ${round} ${t.name}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
        );
      }
    }
    const rows = list.map((t): HttpRow => {
      const results = runs.get(t.name) ?? [];
      const deltas = counted.get(t.name);
      const reads = deltas?.reduce((sum, d) => sum + d.reads, 0) ?? 0;
      const avg = (pick: (s: NonNullable<HttpRow['served']>) => number) =>
        deltas
          ? deltas.reduce(
              (sum, d) => sum + pick(d.served as NonNullable<HttpRow['served']>) * d.reads,
              0,
            ) / Math.max(1, reads)
          : 0;
      return {
        name: t.name,
        what: t.what,
        requestsPerSecond: spread(results.map((r) => r.requestsPerSecond)),
        p50Ms: spread(results.map((r) => r.latencyMs.p50)),
        p99Ms: spread(results.map((r) => r.latencyMs.p99)),
        cpuMicrosPerRequest: spread(cpu.get(t.name) ?? []),
        served: deltas
          ? { L1: avg((s) => s.L1), L2: avg((s) => s.L2), MISS: avg((s) => s.MISS) }
          : null,
        dbQueriesPerRequest: deltas
          ? deltas.reduce((sum, d) => sum + d.queries, 0) / Math.max(1, reads)
          : null,
        errors: results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
      };
    });
    const ceilingRuns = runs.get('ceiling') ?? [];
    const ratios = (runs.get('l1-hit') ?? []).map(
      (r, i) => r.requestsPerSecond / (ceilingRuns[i]?.requestsPerSecond ?? Number.NaN),
    );
    const l1Cpu = cpu.get('l1-hit') ?? [];
    const ceilingCpu = cpu.get('ceiling') ?? [];
    const nodeCpu = cpu.get('ceiling-node') ?? [];
    return {
      rows,
      l1VersusCeiling: spread(ratios),
      l1VersusCeilingByCpu: spread(l1Cpu.map((us, i) => (ceilingCpu[i] ?? Number.NaN) / us)),
      l1OverNodeByCpu: spread(l1Cpu.map((us, i) => us / (nodeCpu[i] ?? Number.NaN))),
    };
  } finally {
    await Promise.all([...ceilings.values()].map((ceiling) => ceiling.stop()));
    await Promise.all(instances.map((instance) => instance.stop()));
  }
}
