import { ms, range, table } from './report-format.ts';
import type { LanguagesResults } from './sections/languages.ts';
import type { BenchSettings } from './settings.ts';

const RIGHT = ['---', '---', '---:', '---:', '---:', '---:'];

/** Section 8: every language's L1 hit, propagation between them, and their clients' own caches. */
export function languagesSection(r: LanguagesResults, s: BenchSettings): string {
  const { iterations, runs, writes } = s.languages;
  const l1 = table(
    ['language', 'runtime', 'ns per L1 hit, median (min–max)'],
    r.l1.map((row) => [row.language, row.runtime, range(row.nsPerHit)]),
    ['---', '---', '---:'],
  );
  const propagation = table(
    ['writer → reader', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'all within 2 s'],
    r.propagation.map((row) => [
      row.pair,
      ms(row.fromWriteStartMs.p50),
      ms(row.fromWriteStartMs.p90),
      ms(row.fromWriteStartMs.p99),
      ms(row.fromWriteStartMs.max),
      row.allWithin2s ? 'yes' : '**no**',
    ]),
    ['---', ...RIGHT.slice(2), '---'],
  );
  const measured = r.clientCaches.filter((row) => row.applicable);
  const caches = table(
    ['language', 'client-side cache', 'ns per hit', 'p50 ms', 'p99 ms', 'max ms', 'lost'],
    measured.map((row) => [
      row.language,
      `${row.name}; ${row.runtime}`,
      range(row.nsPerHit),
      ms(row.fromWriteReturnMs.p50),
      ms(row.fromWriteReturnMs.p99),
      ms(row.fromWriteReturnMs.max),
      String(row.lost),
    ]),
    ['---', '---', '---:', '---:', '---:', '---:', '---:'],
  );
  const notApplicable = r.clientCaches.flatMap((row) =>
    row.applicable
      ? []
      : [`- ${row.language}, ${row.name} (${row.runtime}): not applicable: ${row.reason}`],
  );
  const skipped = r.skipped.length
    ? `\n\nNot measured: ${r.skipped.map((line) => `\`${line}\``).join('; ')}.`
    : '';
  return `## 8. Languages side by side

**L1 hit in process**, measured by each language's own harness
(packages/lab/src/bench/languages.ts) in a process of its own, one language after the other:
${iterations.toLocaleString('en')} reads of one warm key through the public API per run, ${runs} runs (Node:
\`await cache.getOrLoad\`, the worker of section 1; Python: the synchronous \`Cache.get_or_load\`;
Go: \`Cache.Get\`, eventual).

${l1}

**Propagation between languages**: the interop harness's propagation scenario (packages/interop,
protocol/INTEROP.md) on a redis-server of its own, ${writes} writes per ordered pair of adapters.
Measured in the harness process, from sending the writer its \`set\` until the reader's adapter
answers a \`peek\` without the old version: the JSON-line round trips to both adapters are in
every sample, so these are upper bounds next to section 3's in-process stamps.

${propagation}

**A client library's own client-side cache**, where it has one: ns per \`GET\` of a cached key
(${runs} runs of ${iterations.toLocaleString('en')}), and from a \`SET\` on another connection of the same process
returning until the tracked client answers the new value (${writes} writes).

${[measured.length > 0 ? caches : '', notApplicable.join('\n')].filter(Boolean).join('\n\n')}${skipped}`;
}
