import { randomBytes } from 'node:crypto';
import { createKeys } from '@cachelab/cache';
import { type AdapterProcess, startAdapter } from './adapter-process.ts';
import { type AdapterSpec, loadAdapters, missingProgram } from './registry.ts';
import type { Check, Report } from './report.ts';
import { ScenarioContext } from './scenario.ts';
import { scenarios } from './scenarios/index.ts';
import { startCluster, startSingle, type Topology, type TopologyKind } from './topology.ts';

/** Options of {@link runHarness}. */
export interface HarnessOptions {
  /** The repository root (adapters.json's `cwd` is relative to it). */
  root: string;
  /** Adapter names of protocol/adapters.json; every ordered pair runs, each with itself too. */
  impls: string[];
  /** Adapters besides those of protocol/adapters.json (tests register their own). */
  adapters?: Record<string, AdapterSpec>;
  /** Skip an adapter whose program is missing instead of failing. */
  allowMissing?: boolean;
  /** Topologies to run. @default both */
  topologies?: TopologyKind[];
  /** Run only the scenarios of these names. @default every one */
  scenarios?: string[];
  /** Writes measured by the propagation scenario. @default 30 */
  writes?: number;
  /** Progress lines. @default none */
  log?: (line: string) => void;
}

/** Settings every adapter gets (protocol/INTEROP.md, "Environment"). */
const ADAPTER_SETTINGS = {
  CACHELAB_HEARTBEAT_MS: '100',
  CACHELAB_HEARTBEAT_TIMEOUT_MS: '2000',
  CACHELAB_L1_TTL_MS: '60000',
};
const SECRETS = {
  writer: 'interop-secret-writer-first-0123',
  reader: 'interop-secret-reader-first-4567',
  stranger: 'interop-secret-nobody-has-89ab',
};

/** A usage problem (unknown adapter, missing program): the harness did not run. */
export class UsageError extends Error {}

/** Runs every scenario for every pair on every topology; resolves to what was observed. */
export async function runHarness(options: HarnessOptions): Promise<Report> {
  const log = options.log ?? (() => {});
  const registry = { ...loadAdapters(options.root), ...options.adapters };
  const report: Report = { checks: [], propagation: [], skipped: [] };
  const impls: [string, AdapterSpec][] = [];
  // `--impl node --impl node` is the pair node → node once.
  for (const name of new Set(options.impls)) {
    const spec = registry[name];
    if (!spec)
      throw new UsageError(
        `no adapter "${name}" in protocol/adapters.json (known: ${Object.keys(registry).join(', ')})`,
      );
    const missing = missingProgram(spec, options.root);
    if (missing === undefined) impls.push([name, spec]);
    else if (options.allowMissing) report.skipped.push(`${name}: ${missing} is not on PATH`);
    else
      throw new UsageError(
        `adapter ${name} needs ${missing}, which is not on PATH (--allow-missing skips it)`,
      );
  }
  const known = scenarios({ writes: 1 }).map((scenario) => scenario.name);
  const unknown = options.scenarios?.find((name) => !known.includes(name));
  if (unknown) throw new UsageError(`no scenario "${unknown}" (known: ${known.join(', ')})`);
  const pairs = impls.flatMap((x) => impls.map((y) => [x, y] as const));
  for (const kind of options.topologies ?? ['single', 'cluster']) {
    if (pairs.length === 0) break;
    log(`starting ${kind === 'single' ? 'a redis-server' : 'a Redis Cluster'}…`);
    const topology = kind === 'single' ? await startSingle() : await startCluster();
    try {
      for (const [x, y] of pairs) await runPair(options, topology, x, y, true, report, log);
      // Without secrets, on one Redis only: plain messages between the pair (MUST-SIGN-4).
      if (kind === 'single') {
        for (const [x, y] of pairs) await runPair(options, topology, x, y, false, report, log);
      }
    } finally {
      await topology.stop();
    }
  }
  return report;
}

async function runPair(
  options: HarnessOptions,
  topology: Topology,
  [xName, xSpec]: readonly [string, AdapterSpec],
  [yName, ySpec]: readonly [string, AdapterSpec],
  signed: boolean,
  report: Report,
  log: (line: string) => void,
): Promise<void> {
  const pair = `${xName} → ${yName}`;
  const channel = signed ? 'signed' : 'unsigned';
  const chosen = scenarios({ writes: options.writes ?? 30 }).filter(
    (scenario) =>
      (!scenario.only || scenario.only === topology.kind) &&
      (scenario.channel ?? 'signed') === channel &&
      (!options.scenarios || options.scenarios.includes(scenario.name)),
  );
  // Nothing to run on this channel (e.g. `--scenario propagation` unsigned): no adapters started.
  if (chosen.length === 0) return;
  const namespace = `interop-${randomBytes(4).toString('hex')}`;
  log(`${pair} on ${topology.label}, ${channel} messages, namespace ${namespace}`);
  const env = (origin: string, secrets: string[]) => ({
    ...topology.adapterEnv(),
    ...ADAPTER_SETTINGS,
    CACHELAB_NAMESPACE: namespace,
    CACHELAB_ORIGIN: origin,
    CACHELAB_SECRETS: signed ? secrets.join(',') : '',
  });
  // Each signs with its own first secret and lists the other's second: every message between
  // them exercises rotation (SPEC MUST-SIGN-2).
  const started: AdapterProcess[] = [];
  const start = async (name: string, spec: AdapterSpec, origin: string, secrets: string[]) => {
    const adapter = await startAdapter({
      name,
      spec,
      root: options.root,
      env: env(origin, secrets),
    });
    started.push(adapter);
    return adapter;
  };
  try {
    const x = await start(xName, xSpec, `x-${xName}`, [SECRETS.writer, SECRETS.reader]);
    const y = await start(yName, ySpec, `y-${yName}`, [SECRETS.reader, SECRETS.writer]);
    const samples: number[] = [];
    for (const scenario of chosen) {
      const checks: Check[] = [];
      const record = (must: string, ok: boolean, what: string) =>
        checks.push({ must, ok, what, scenario: scenario.name, pair, topology: topology.label });
      const context = new ScenarioContext({
        x,
        y,
        topology,
        keys: createKeys(namespace),
        secrets: { accepted: SECRETS.writer, stranger: SECRETS.stranger },
        signed,
        record,
      });
      try {
        await ready(context);
        await scenario.run(context);
      } catch (error) {
        const tail = [x, y]
          .map((a) => a.stderrTail())
          .filter(Boolean)
          .join('\n');
        for (const must of scenario.musts)
          record(must, false, `${(error as Error).message}${tail ? `\n${tail}` : ''}`);
      }
      samples.push(...context.samples);
      report.checks.push(...checks);
      const failed = checks.filter((c) => !c.ok);
      log(
        `  ${failed.length === 0 ? 'PASS' : 'FAIL'} ${scenario.name}${failed.map((f) => `\n    ${f.must}: ${f.what}`).join('')}`,
      );
    }
    if (samples.length > 0) {
      report.propagation.push({ pair, topology: topology.label, samples });
    }
  } finally {
    await Promise.all(started.map((adapter) => adapter.close()));
  }
}

/** Both instances trust their L1 before a scenario starts (a fault scenario may have shaken it). */
async function ready(t: ScenarioContext): Promise<void> {
  for (const adapter of [t.x, t.y]) {
    const trusted = await t.eventually(
      [],
      `${adapter.origin} trusts its L1`,
      async () => (await t.stats(adapter)).trusted,
      15_000,
    );
    if (!trusted) throw new Error(`${adapter.origin} does not trust its L1 within 15 s`);
  }
}
