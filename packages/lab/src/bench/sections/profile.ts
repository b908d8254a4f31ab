import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../child.ts';
import { runLoad } from '../load.ts';
import type { BenchServices } from '../services.ts';
import { startInstances } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { startCeiling } from './http.ts';

/** Where one process spent its CPU time under load, from its `--cpu-prof` profile. */
export interface ProfileSummary {
  target: string;
  requests: number;
  /** CPU time not idle, per request, in µs. */
  busyMicrosPerRequest: number;
  /** µs per request by origin: cachelab, express & deps, node internals, GC, native, other. */
  byOrigin: Record<string, number>;
  /** Functions with the most self time, in µs per request. */
  topFunctions: { name: string; micros: number }[];
}

/** The profile section: both processes, and where the L1-hit instance spends more per request. */
export interface ProfileResults {
  /** Raw `.cpuprofile` files (not committed; open them in Chrome DevTools). */
  directory: string;
  summaries: ProfileSummary[];
  /** Functions costing the L1-hit instance more than the ceiling, µs per request. */
  gap: { name: string; l1Hit: number; ceiling: number }[];
}

interface CpuProfile {
  /** µs on the monotonic clock (the one `process.hrtime` reads). */
  startTime: number;
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const EXPRESS = new Set(
  'express router body-parser send finalhandler path-to-regexp qs content-type type-is mime-types mime-db on-finished depd parseurl debug fresh encodeurl escape-html statuses vary cookie-signature is-promise'.split(
    ' ',
  ),
);

function origin(url: string, name: string): string {
  if (name === '(garbage collector)') return 'gc';
  if (name === '(idle)') return 'idle';
  if (url === '') return 'native (syscalls, V8)';
  if (url.includes('/packages/cache/')) return 'cachelab library';
  if (url.includes('/packages/')) return 'cachelab app';
  if (url.includes('/packages/lab/src/bench/')) return 'ceiling server';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (module && EXPRESS.has(module)) return 'express & deps';
  if (module?.includes('redis')) return 'redis client';
  if (module) return `other (${module})`;
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
}

/** Self time per function and per origin, in µs, of the samples taken within `window` (µs). */
function selfTimes(profile: CpuProfile, window: [number, number]) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions = new Map<string, number>();
  const origins = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const micros = profile.timeDeltas[i] ?? 0;
    at += micros;
    if (!frame || at < window[0] || at > window[1]) return;
    const where = origin(frame.url, frame.functionName);
    if (where === 'idle') return;
    origins.set(where, (origins.get(where) ?? 0) + micros);
    const file = frame.url.replace(/^.*\/(node_modules|packages|scripts)\//, '$1/');
    const name = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + micros);
  });
  return { functions, origins };
}

const perRequest = (map: Map<string, number>, requests: number) =>
  new Map([...map].map(([k, v]) => [k, v / Math.max(1, requests)]));
const round2 = (n: number) => Math.round(n * 100) / 100;

async function mainThreadProfile(dir: string): Promise<CpuProfile> {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader
  // hooks run in a worker thread of their own and get a profile too).
  const files = (await readdir(dir)).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f)).sort();
  const last = files.at(-1);
  if (!last) throw new Error(`no main-thread .cpuprofile written in ${dir}`);
  return JSON.parse(await readFile(join(dir, last), 'utf8')) as CpuProfile;
}

/** Loads one process started with `--cpu-prof` and returns its per-request self times. */
async function profileUnderLoad(
  settings: BenchSettings,
  services: BenchServices,
  target: 'l1-hit' | 'ceiling',
  dir: string,
  ceilingBody: unknown,
) {
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  const env = {
    INSTANCE_NAME: 'bench-profile',
    CACHE_NAMESPACE: 'bench-profile',
    DB_LATENCY_MS: '0',
    SEED_USERS: String(settings.seedUsers),
  };
  const [instance] = target === 'l1-hit' ? await startInstances(services, [env], nodeArgs) : [];
  const ceiling = target === 'ceiling' ? await startCeiling(ceilingBody, nodeArgs) : undefined;
  const url = instance?.url ?? (ceiling?.url as string);
  const body: unknown = await (await fetch(`${url}/users/1`)).json();
  const micros = () => Number(process.hrtime.bigint() / 1000n);
  const from = micros();
  const result = await runLoad({
    urls: [url],
    connections: settings.http.connections,
    durationSeconds: settings.http.durationSeconds * 2,
    path: { kind: 'fixed', path: '/users/1' },
  });
  const to = micros();
  await instance?.stop();
  await ceiling?.stop();
  const times = selfTimes(await mainThreadProfile(dir), [from, to]);
  return {
    body,
    requests: result.requests,
    functions: perRequest(times.functions, result.requests),
    origins: perRequest(times.origins, result.requests),
  };
}

/**
 * The L1-hit instance and the ceiling server, each under the same load with `--cpu-prof`: CPU
 * per request by origin and by function (start-up and idle left out), and the functions that
 * cost the instance more than the ceiling. Raw profiles go to `.tmp/bench-profiles/`.
 */
export async function runProfile(
  settings: BenchSettings,
  services: BenchServices,
): Promise<ProfileResults> {
  const directory = join(ROOT, '.tmp', 'bench-profiles');
  await rm(directory, { recursive: true, force: true });
  const measured = [];
  let body: unknown;
  for (const target of ['l1-hit', 'ceiling'] as const) {
    const dir = join(directory, target);
    await mkdir(dir, { recursive: true });
    // The ceiling answers the very body the instance answered.
    const profiled = await profileUnderLoad(settings, services, target, dir, body);
    body = profiled.body;
    measured.push({ target, ...profiled });
  }
  const summaries = measured.map(({ target, requests, functions, origins }) => ({
    target,
    requests,
    busyMicrosPerRequest: round2([...origins.values()].reduce((a, b) => a + b, 0)),
    byOrigin: Object.fromEntries(
      [...origins].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round2(v)]),
    ),
    topFunctions: [...functions]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, micros]) => ({ name, micros: round2(micros) })),
  }));
  const [app, ceiling] = measured as [(typeof measured)[0], (typeof measured)[0]];
  const names = new Set([...app.functions.keys(), ...ceiling.functions.keys()]);
  const gap = [...names]
    .map((name) => ({
      name,
      l1Hit: round2(app.functions.get(name) ?? 0),
      ceiling: round2(ceiling.functions.get(name) ?? 0),
    }))
    .sort((a, b) => b.l1Hit - b.ceiling - (a.l1Hit - a.ceiling))
    .slice(0, 15);
  return { directory, summaries, gap };
}
