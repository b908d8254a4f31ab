/** One sample line of the Prometheus text format. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its `# HELP`, its `# TYPE` and its samples, in order. */
export interface PromFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: PromSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;
// Go's strconv.ParseFloat, which Prometheus parses values with, takes NaN and Inf in any case
// (prom-client writes `Nan` for an empty event-loop-lag histogram).
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|[+-]inf)$/i;

/** Sample-name suffixes allowed in a family of each type. */
const SUFFIXES: Record<PromFamily['type'], string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly, throwing on the first violation
 * with its line number: every line is a HELP, TYPE or sample line (or empty); each family is declared once,
 * with HELP and TYPE before its samples, which are contiguous and unique; histogram buckets are
 * cumulative, in increasing `le` order, end with `+Inf` equal to `_count`, and come with `_sum`.
 */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  let current: PromFamily | undefined;
  const lines = text.slice(0, -1).split('\n');
  for (const [index, line] of lines.entries()) {
    const fail: (why: string) => never = (why) => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') continue; // the format allows (and prom-client writes) blank lines
    const help = HELP_LINE.exec(line);
    const type = TYPE_LINE.exec(line);
    if (help || type) {
      const name = (help?.[1] ?? type?.[1]) as string;
      if (current?.name !== name) {
        if (families.has(name)) fail(`family ${name} declared twice`);
        current = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, current);
      }
      if (current.samples.length > 0) fail('HELP/TYPE after samples');
      if (help) current.help = help[2] as string;
      if (type) current.type = type[2] as PromFamily['type'];
      continue;
    }
    const sample = SAMPLE_LINE.exec(line) ?? fail('not a HELP, TYPE or sample line');
    if (!current) fail('sample before any TYPE');
    const family = current;
    const name = sample[1] as string;
    const suffix = name.slice(family.name.length);
    if (!name.startsWith(family.name) || !SUFFIXES[family.type].includes(suffix)) {
      fail(`sample ${name} does not belong to ${family.type} ${family.name}`);
    }
    const raw = sample[3] as string;
    if (!VALUE.test(raw)) fail(`bad value ${raw}`);
    const labels = parseLabels(sample[2] ?? '', fail);
    const identity = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(identity)) fail('duplicate sample');
    seen.add(identity);
    family.samples.push({ name, labels, value: toNumber(raw) });
  }
  for (const family of families.values()) {
    if (family.type === 'untyped' || !family.help) {
      throw new Error(`family ${family.name} lacks HELP or TYPE`);
    }
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

/** A sample value or `le` bound: Go's float syntax, with `+Inf`, `-Inf` and `NaN`. */
function toNumber(raw: string): number {
  if (/inf$/i.test(raw)) return raw.startsWith('-') ? -Infinity : Infinity;
  return Number(raw);
}

function parseLabels(text: string, fail: (why: string) => never): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const label = LABEL.exec(rest) ?? fail('malformed labels');
    const [whole, name, value] = label as unknown as [string, string, string];
    if (Object.hasOwn(labels, name)) fail(`label ${name} repeated`);
    labels[name] = value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
  }
  return labels;
}

/** Checks each series of a histogram (one per label set without `le`). */
function checkHistogram(family: PromFamily): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const { name, labels, value } of family.samples) {
    const { le, ...rest } = labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${name} without le`);
      if (!VALUE.test(le)) throw new Error(`${name}: bad le ${le}`);
      entry.buckets.push([toNumber(le), value]);
    } else if (name.endsWith('_sum')) entry.sum = value;
    else entry.count = value;
  }
  for (const [key, { buckets, sum, count }] of series) {
    const where = `${family.name}${key}`;
    for (let i = 1; i < buckets.length; i++) {
      const [le, cumulative] = buckets[i] as [number, number];
      const [prevLe, prevCumulative] = buckets[i - 1] as [number, number];
      if (!(le > prevLe)) throw new Error(`${where}: le not increasing at ${le}`);
      if (cumulative < prevCumulative) throw new Error(`${where}: bucket counts decrease at ${le}`);
    }
    const last = buckets[buckets.length - 1];
    if (!last || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`);
    if (count !== last[1]) throw new Error(`${where}: _count ${count} ≠ +Inf bucket ${last[1]}`);
    if (sum === undefined || !(sum >= 0)) throw new Error(`${where}: missing or negative _sum`);
  }
}

/** The value of the one sample of `family` whose labels include `labels`; throws otherwise. */
export function sampleValue(
  families: Map<string, PromFamily>,
  family: string,
  labels: Record<string, string> = {},
  name = family,
): number {
  const found = families
    .get(family)
    ?.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  if (found?.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found?.length ?? 0}`);
  }
  return (found[0] as PromSample).value;
}
