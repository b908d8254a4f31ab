import { runWorker } from '../child.ts';
import type { BenchServices } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { type Spread, spread } from '../stats.ts';

/** ns per operation, median and spread over the runs. */
export interface L1Results {
  rows: { name: string; nsPerOp: Spread }[];
  /** getOrLoad L1 hit ÷ awaited Map.get, per run (paired), median and spread. */
  versusAwaitedMap: Spread;
}

/** Runs the in-process L1 micro-benchmark in a process of its own. */
export async function runL1(settings: BenchSettings, services: BenchServices): Promise<L1Results> {
  const output = await runWorker<{ rows: { name: string; ns: number[] }[] }>(
    'l1',
    { redisUrl: services.redisUrl, ...settings.l1 },
    { timeoutMs: 120_000 },
  );
  const find = (name: string) => output.rows.find((row) => row.name === name)?.ns ?? [];
  const map = find('await Map.get');
  const ratios = find('await cache.getOrLoad (L1 hit)').map((ns, i) => ns / (map[i] ?? Number.NaN));
  return {
    rows: output.rows.map((row) => ({ name: row.name, nsPerOp: spread(row.ns) })),
    versusAwaitedMap: spread(ratios),
  };
}
