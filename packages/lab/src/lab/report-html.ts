/**
 * The lab's HTML report: one self-contained file (inline CSS and SVG, no scripts) with the
 * settings and metric definitions, the headline numbers, the timeline picture and the breakdowns.
 */
import type { CheckResult } from './checker-types.ts';
import { METRIC_DEFINITIONS } from './checker-types.ts';
import type { History } from './history.ts';
import {
  breakdownTables,
  escapeHtml,
  formatMs,
  formatPercent,
  NUMERIC,
  type ReportTable,
  resultRows,
  settingsRows,
} from './report-data.ts';
import { renderTimeline } from './report-timeline.ts';
import {
  TIMELINE_KEYS_PER_FAULT,
  TIMELINE_RACE_KEYS,
  TIMELINE_STUCK_KEYS,
  timelineRows,
} from './timeline-rows.ts';

const CSS = `
:root{color-scheme:light;--ink:#1b1f24;--muted:#5b636d;--line:#dde1e6;--bad:#d7263d;--good:#2e9d49}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:1240px;margin:0 auto;padding:28px 24px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px}
.sub{color:var(--muted);margin:0 0 20px}
.grid{display:grid;grid-template-columns:minmax(280px,1fr) 2fr;gap:28px;align-items:start}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
dl{margin:0}dt{font-weight:600}dd{margin:0 0 8px;color:#333}
table{border-collapse:collapse;font-size:14px;margin:4px 0}
th,td{padding:4px 12px 4px 0;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);border-bottom:1.5px solid #b9c0c8}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;padding-left:12px}
.kv th{color:var(--ink);font-weight:500;white-space:nowrap;border-bottom:1px solid var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;margin:8px 0 16px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:13px;line-height:1.3;display:block}
.card.bad b{color:var(--bad)}.card.good b{color:var(--good)}
figure{margin:0}figcaption{color:var(--muted);font-size:13px;margin-top:6px}
.timeline{display:block;border:1px solid var(--line);border-radius:8px}
.note,.empty{color:var(--muted);font-size:14px}
.warn{color:#9c4a00}
code{font-size:.95em}
`;

/** A plain HTML table; columns after the first that look numeric align right. */
function htmlTable(headers: string[], rows: string[][], className = ''): string {
  const numeric = headers.map(
    (_, c) => c > 0 && rows.length > 0 && rows.every((r) => NUMERIC.test(r[c] ?? '')),
  );
  const cell = (tag: string, text: string, c: number) =>
    `<${tag}${numeric[c] ? ' class="num"' : ''}>${escapeHtml(text)}</${tag}>`;
  const head = `<tr>${headers.map((h, c) => cell('th', h, c)).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((text, c) => cell('td', text, c)).join('')}</tr>`);
  return `<table${className ? ` class="${className}"` : ''}><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

/** Name/value pairs as a two-column table with the names as row headers. */
function pairTable(rows: [string, string][]): string {
  const body = rows.map(
    ([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`,
  );
  return `<table class="kv"><tbody>${body.join('')}</tbody></table>`;
}

/** A titled breakdown table. */
function tableSection(table: ReportTable): string {
  const body =
    table.rows.length === 0
      ? `<p class="empty">${escapeHtml(table.empty)}</p>`
      : htmlTable(table.headers, table.rows);
  const note = table.note ? `<p class="note">${escapeHtml(table.note)}</p>` : '';
  return `<section><h2>${escapeHtml(table.title)}</h2>${body}${note}</section>`;
}

/** The headline numbers as cards, red when a correctness number is not zero. */
function cards(result: CheckResult): string {
  const card = (value: string, label: string, bad?: boolean) =>
    `<div class="card${bad === undefined ? '' : bad ? ' bad' : ' good'}"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`;
  const sessions = (c: CheckResult['monotonic']) => c.withTokens + c.withoutTokens;
  return `<div class="cards">${[
    card(
      formatPercent(result.stale.staleReadRate),
      `stale-read rate (${result.stale.staleReads} of ${result.reads.ok} reads)`,
    ),
    card(formatMs(result.stale.windowMs.max), 'max staleness window'),
    card(String(result.stuckKeys.length), 'stuck keys', result.stuckKeys.length > 0),
    card(
      String(result.mismatches.length),
      'value/version mismatches',
      result.mismatches.length > 0,
    ),
    card(String(sessions(result.monotonic)), 'monotonic-read violations'),
    card(String(sessions(result.readYourWrites)), 'read-your-writes violations'),
    card(String(result.errors.total), 'failed operations'),
    card(formatPercent(result.hitRatio), 'hit ratio (L1+L2)'),
  ].join('')}</div>`;
}

/** The timeline figure with its caption. */
function timelineFigure(history: History, result: CheckResult): string {
  const keys = new Set(history.operations.map((op) => op.key)).size;
  const shown = timelineRows(history, result).length;
  const caption =
    `${shown} of ${keys} keys. Rows, each tagged with why it is shown: stuck keys (up to ${TIMELINE_STUCK_KEYS}), ` +
    `stale-set race keys (up to ${TIMELINE_RACE_KEYS}), keys read or written during each fault (up to ${TIMELINE_KEYS_PER_FAULT} per fault, the most stale reads first), ` +
    'then the keys with the most stale reads, then the most writes. ' +
    'Reads sit at their start time; a red span runs from the completion of the write that made a read stale to the read. ' +
    'A fault that lasts (pause-writes, freeze, slow-db) is a band from its start to its end; an instant fault (kill-pubsub, restart-redis, kill) is a dashed line. ' +
    `Stale reads are attributed to a fault from its start until ${formatMs(result.options.faultWindowAfterMs)} after its end.`;
  return `<figure>${renderTimeline(history, result)}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

/** The whole report as one self-contained HTML document. */
export function renderHtml(history: History, result: CheckResult): string {
  const strategy = history.settings.strategy;
  const definitions = METRIC_DEFINITIONS.map(
    (d) => `<dt>${escapeHtml(d.term)}</dt><dd>${escapeHtml(d.text)}</dd>`,
  );
  const warnings = result.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('');
  const subtitle = `Started ${history.settings.startedAt} · ${history.operations.length} operations · ${history.faults.length} faults injected`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cachelab consistency report — ${escapeHtml(strategy)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>Consistency report: <code>${escapeHtml(strategy)}</code></h1>
<p class="sub">${escapeHtml(subtitle)}</p>
<div class="grid">
<section><h2>Settings</h2>${pairTable(settingsRows(history))}</section>
<section><h2>What the numbers mean</h2><dl>${definitions.join('')}</dl></section>
</div>
</header>
<section><h2>Summary</h2>${cards(result)}${pairTable(resultRows(result))}</section>
${warnings ? `<section class="warn"><h2>Warnings</h2><ul>${warnings}</ul></section>` : ''}
<section><h2>Timeline</h2>${timelineFigure(history, result)}</section>
${breakdownTables(result).map(tableSection).join('\n')}
</main>
</body>
</html>
`;
}
