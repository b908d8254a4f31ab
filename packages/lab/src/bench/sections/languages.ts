import { missingProgram } from '@cachelab/interop/registry.ts';
import { runHarness } from '@cachelab/interop/run.ts';
import { ROOT, runCommand } from '../child.ts';
import { LANGUAGE_BENCHES, type LanguageBench } from '../languages.ts';
import type { BenchServices } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { type Percentiles, percentiles, type Spread, spread } from '../stats.ts';

/** One language's L1 hit, measured by its own harness. */
export interface LanguageL1Row {
  language: string;
  runtime: string;
  nsPerHit: Spread;
}

/** Propagation from a writer in one language to a reader in another (or the same), in ms. */
export interface LanguagePropagationRow {
  /** `writer → reader`. */
  pair: string;
  fromWriteStartMs: Percentiles;
  /** Whether every write reached the reader within 2 s (the scenario's check of MUST-MSG-6). */
  allWithin2s: boolean;
}

/** A client library's own client-side cache, or why it does not apply here. */
export type ClientCacheRow = { language: string; name: string; runtime: string } & (
  | { applicable: false; reason: string }
  | { applicable: true; nsPerHit: Spread; fromWriteReturnMs: Percentiles; lost: number }
);

/** The languages section's results. */
export interface LanguagesResults {
  l1: LanguageL1Row[];
  propagation: LanguagePropagationRow[];
  clientCaches: ClientCacheRow[];
  /** Languages not measured, each with why and what would make them available. */
  skipped: string[];
}

type ClientCacheOutput = { runtime: string } & (
  | { applicable: false; reason: string }
  | { applicable: true; nsPerHit: number[]; fromWriteReturnMs: number[]; lost: number }
);

/**
 * Every language of `LANGUAGE_BENCHES` whose toolchain is here, side by side: its L1 hit in
 * process (its own harness), propagation between every ordered pair of them (the interop
 * harness's propagation scenario, on a redis-server of its own), and its client library's own
 * client-side cache where it has one.
 */
export async function runLanguages(
  settings: BenchSettings,
  services: BenchServices,
  log: (line: string) => void,
): Promise<LanguagesResults> {
  const skipped: string[] = [];
  const present = Object.entries(LANGUAGE_BENCHES).filter(([name, bench]) => {
    const missing = missingProgram(
      { command: bench.l1Hit, cwd: '.', requires: bench.requires },
      ROOT,
    );
    if (missing !== undefined) skipped.push(`${name}: ${missing} is missing (${bench.setup})`);
    return missing === undefined;
  });
  const input = { redisUrl: services.redisUrl, ...settings.languages };
  const l1: LanguageL1Row[] = [];
  const clientCaches: ClientCacheRow[] = [];
  // One harness at a time: on 2 cores, two at once would measure each other.
  for (const [language, bench] of present) {
    log(`  ${language}: L1 hit`);
    const out = await runCommand<{ nsPerHit: number[]; runtime: string }>(bench.l1Hit, input, {
      timeoutMs: 300_000,
    });
    l1.push({ language, runtime: out.runtime, nsPerHit: spread(out.nsPerHit) });
    if (bench.clientCache) clientCaches.push(await clientCache(language, bench, input, log));
  }
  log(`  propagation between ${present.map(([name]) => name).join(', ')}`);
  const interop = await runHarness({
    root: ROOT,
    impls: present.map(([, bench]) => bench.adapter),
    allowMissing: true,
    topologies: ['single'],
    scenarios: ['propagation'],
    writes: settings.languages.writes,
  });
  skipped.push(...interop.skipped);
  const propagation = interop.propagation.map(({ pair, samples }) => ({
    pair,
    fromWriteStartMs: percentiles(samples),
    allWithin2s: interop.checks.every((check) => check.pair !== pair || check.ok),
  }));
  return { l1, propagation, clientCaches, skipped };
}

async function clientCache(
  language: string,
  bench: LanguageBench,
  input: Record<string, unknown>,
  log: (line: string) => void,
): Promise<ClientCacheRow> {
  const { name, command } = bench.clientCache as NonNullable<LanguageBench['clientCache']>;
  log(`  ${language}: ${name}`);
  const out = await runCommand<ClientCacheOutput>(command, input, { timeoutMs: 300_000 });
  if (!out.applicable) {
    return { language, name, runtime: out.runtime, applicable: false, reason: out.reason };
  }
  return {
    language,
    name,
    runtime: out.runtime,
    applicable: true,
    nsPerHit: spread(out.nsPerHit),
    fromWriteReturnMs: percentiles(out.fromWriteReturnMs),
    lost: out.lost,
  };
}
