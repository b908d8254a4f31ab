import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  /** Share of busy time by origin: cachelab, express & co, node internals, GC, other. */
  byOrigin: Record<string, number>;
  /** Functions with the most self time: share of busy time. */
  topFunctions: { name: string; share: number }[];
}

interface CpuProfile {
  /** µs on the monotonic clock (the one `process.hrtime` reads). */
  startTime: number;
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

function origin(url: string, name: string): string {
  if (name === '(garbage collector)') return 'gc';
  if (name === '(idle)') return 'idle';
  if (name === '(program)' || url === '') return 'program/native';
  if (url.includes('/packages/')) return 'cachelab';
  if (url.includes('/scripts/bench/')) return 'bench server';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (module)
    return [
      'express',
      'router',
      'body-parser',
      'send',
      'finalhandler',
      'path-to-regexp',
      'qs',
      'content-type',
      'type-is',
      'mime-types',
      'on-finished',
      'depd',
      'safe-buffer',
    ].includes(module)
      ? 'express & deps'
      : module === 'redis' || module.startsWith('@redis')
        ? 'redis client'
        : `other (${module})`;
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
}

/**
 * Summarises a `.cpuprofile` between `window` (µs, monotonic; start-up is left out): self time by
 * origin and by function, idle left out.
 */
export function summarizeProfile(
  profile: CpuProfile,
  target: string,
  requests: number,
  window: [number, number],
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfTime = new Map<string, number>();
  const originTime = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const micros = profile.timeDeltas[i] ?? 0;
    at += micros;
    if (!frame || at < window[0] || at > window[1]) return;
    const where = origin(frame.url, frame.functionName);
    if (where === 'idle') return;
    busy += micros;
    originTime.set(where, (originTime.get(where) ?? 0) + micros);
    const file = frame.url.replace(/^.*\/(node_modules|packages|scripts)\//, '$1/');
    const name = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    selfTime.set(name, (selfTime.get(name) ?? 0) + micros);
  });
  const share = (micros: number) => Math.round((micros / busy) * 1000) / 1000;
  return {
    target,
    requests,
    busyMicrosPerRequest: busy / Math.max(1, requests),
    byOrigin: Object.fromEntries(
      [...originTime].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, share(v)]),
    ),
    topFunctions: [...selfTime]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, micros]) => ({ name, share: share(micros) })),
  };
}

async function latestProfile(dir: string): Promise<CpuProfile> {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader
  // hooks run in a worker thread of their own and get a profile too).
  const files = (await readdir(dir)).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f)).sort();
  const last = files.at(-1);
  if (!last) throw new Error(`no main-thread .cpuprofile written in ${dir}`);
  return JSON.parse(await readFile(join(dir, last), 'utf8')) as CpuProfile;
}

/**
 * `--profile`: the L1-hit instance and the ceiling server, each under the same load with
 * `--cpu-prof`, summarised side by side (the raw profiles stay in `<out>/profiles/`).
 */
export async function runProfile(
  settings: BenchSettings,
  services: BenchServices,
  out: string,
): Promise<ProfileSummary[]> {
  const seconds = settings.http.durationSeconds * 2;
  const summaries: ProfileSummary[] = [];
  for (const target of ['l1-hit', 'ceiling'] as const) {
    const dir = join(out, 'profiles', target);
    await mkdir(dir, { recursive: true });
    const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
    const env = {
      INSTANCE_NAME: 'bench-profile',
      CACHE_NAMESPACE: 'bench-profile',
      DB_LATENCY_MS: '0',
      SEED_USERS: String(settings.seedUsers),
    };
    const [instance] = target === 'l1-hit' ? await startInstances(services, [env], nodeArgs) : [];
    const body = {
      id: '1',
      name: 'User 1',
      email: 'user1@example.com',
      age: 19,
      version: 1,
      updatedAt: new Date(0).toISOString(),
    };
    const ceiling = target === 'ceiling' ? await startCeiling(body, nodeArgs) : undefined;
    const url = instance?.url ?? (ceiling?.url as string);
    await fetch(`${url}/users/1`);
    const micros = () => Number(process.hrtime.bigint() / 1000n);
    const from = micros();
    const result = await runLoad({
      urls: [url],
      connections: settings.http.connections,
      durationSeconds: seconds,
      path: { kind: 'fixed', path: '/users/1' },
    });
    const to = micros();
    await instance?.stop();
    await ceiling?.stop();
    const profile = await latestProfile(dir);
    summaries.push(summarizeProfile(profile, target, result.requests, [from, to]));
  }
  return summaries;
}
