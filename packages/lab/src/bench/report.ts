import type { Machine } from './machine.ts';
import { clusterSection } from './report-cluster.ts';
import { type Check, table } from './report-format.ts';
import { languagesSection } from './report-languages.ts';
import {
  httpSection,
  l1Section,
  memorySection,
  outboxSection,
  profileSection,
  propagationSection,
  stormsSection,
} from './report-sections.ts';
import type { ClusterResults } from './sections/cluster.ts';
import type { HttpResults } from './sections/http.ts';
import type { L1Results } from './sections/l1.ts';
import type { LanguagesResults } from './sections/languages.ts';
import type { MemoryResults } from './sections/memory.ts';
import type { OutboxResults } from './sections/outbox.ts';
import type { ProfileResults } from './sections/profile.ts';
import type { PropagationResults } from './sections/propagation.ts';
import type { StormResults } from './sections/storms.ts';
import type { BenchSettings } from './settings.ts';

/** Everything one run wrote: the JSON file is this object. */
export interface BenchReport {
  date: string;
  /** The command line that made it, e.g. `npm run bench -- --only languages` (absent before). */
  command?: string;
  durationSeconds: number;
  machine: Machine;
  settings: BenchSettings;
  sections: string[];
  results: {
    l1?: L1Results;
    http?: HttpResults;
    profile?: ProfileResults;
    propagation?: PropagationResults;
    storms?: StormResults;
    memory?: MemoryResults;
    outbox?: OutboxResults;
    cluster?: ClusterResults;
    languages?: LanguagesResults;
  };
  /** Sections that failed, with their error. */
  errors: Record<string, string>;
}

function header(report: BenchReport): string {
  const m = report.machine;
  return `# cachelab benchmarks, ${report.date.slice(0, 10)}

${report.settings.mode === 'quick' ? '> **Quick mode**: tiny durations and counts; these numbers only prove that every section runs.\n\n' : ''}${table(
  ['', ''],
  [
    ['date', report.date],
    ['machine', `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM (${m.freeRamGiB} GiB free)`],
    ['load average at start', m.loadAverage.join(', ')],
    ['OS', m.os],
    ['Node', m.node],
    ['Redis', m.redis],
    ['git commit', `${m.gitCommit}${m.gitDirty ? ' (with uncommitted changes)' : ''}`],
    ['sections', report.sections.join(', ')],
    ['run time', `${report.durationSeconds} s`],
  ],
)}

Command: \`${report.command ?? `npm run bench${report.settings.mode === 'quick' ? ' -- --quick' : ''}`}\`. Every setting is in the JSON file next to this one
(\`settings\`); the ones that shape the numbers are repeated under each section.`;
}

/** Renders a run as Markdown: machine, one section per measurement, and the targets with whether each was met. */
export function renderMarkdown(report: BenchReport): string {
  const checks: Check[] = [];
  const { results, settings } = report;
  const parts = [header(report)];
  if (results.l1) parts.push(l1Section(results.l1, settings, checks));
  if (results.http) parts.push(httpSection(results.http, settings, checks));
  if (results.profile) parts.push(profileSection(results.profile));
  if (results.propagation) parts.push(propagationSection(results.propagation, settings, checks));
  if (results.storms) parts.push(stormsSection(results.storms, settings, checks));
  if (results.memory) parts.push(memorySection(results.memory, checks));
  if (results.cluster) parts.push(clusterSection(results.cluster));
  if (results.outbox) parts.push(outboxSection(results.outbox, settings, checks));
  if (results.languages) parts.push(languagesSection(results.languages, settings));
  for (const [section, error] of Object.entries(report.errors))
    parts.push(`## ${section}: failed\n\n\`\`\`\n${error}\n\`\`\``);
  parts.splice(
    1,
    0,
    `## Targets\n\n${table(
      ['target', 'measured', 'met'],
      checks.map((c) => [c.target, c.measured, c.met ? 'yes' : '**no**']),
    )}`,
  );
  return `${parts.join('\n\n')}\n`;
}
