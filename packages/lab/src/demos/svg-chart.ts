/**
 * Two small, dependency-free SVG charts for the demos: stacked line panels over a shared x axis
 * (with labelled bands, e.g. the phases of a run) and side-by-side panels of grouped bars.
 * The output is a standalone `.svg` file that GitHub and browsers render as an image.
 */
import { escapeHtml } from '../lab/report-data.ts';

const WIDTH = 960;
const LEFT = 78;
const RIGHT = 24;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
const BAND_FILLS = ['#eef3fb', '#fbf3e8', '#eef8ef', '#f6eefa'];

/** One line of a panel; `null` leaves a gap. */
export interface Series {
  name: string;
  color: string;
  points: [x: number, y: number | null][];
  dashed?: boolean;
}

/** One panel of a line chart, with its own y axis. */
export interface LinePanel {
  yLabel: string;
  series: Series[];
  /** A logarithmic y axis (values ≤ 0 are not drawn). */
  log?: boolean;
  yMax?: number;
  /** Tick label of a y value. @default String */
  format?: (y: number) => string;
}

/** A labelled stretch of the x axis drawn across every panel. */
export interface Band {
  from: number;
  to: number;
  label: string;
}

/** A y scale: value → pixel, and its ticks. */
interface Scale {
  y(value: number): number;
  ticks: number[];
}

/** About five round ticks from 0 to at least `max`. */
function linearTicks(max: number): number[] {
  const raw = Math.max(max, 1e-9) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks = [];
  for (let t = 0; t < max + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function scaleOf(panel: LinePanel, top: number, height: number): Scale {
  const values = panel.series.flatMap((s) => s.points.map(([, y]) => y ?? Number.NaN));
  const finite = values.filter((v) => Number.isFinite(v) && (!panel.log || v > 0));
  if (panel.log) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...finite, 1)));
    const max = Math.max(...finite, lo * 10);
    const decade = 10 ** Math.floor(Math.log10(max));
    const hi = ([1, 2, 5, 10].find((m) => m * decade >= max) ?? 10) * decade;
    const ticks = [];
    for (let t = lo; t < hi * 0.999; t *= 10) ticks.push(Number(t.toPrecision(12)));
    ticks.push(hi);
    const span = Math.log10(hi) - Math.log10(lo);
    return { ticks, y: (v) => top + height - ((Math.log10(v) - Math.log10(lo)) / span) * height };
  }
  const ticks = linearTicks(panel.yMax ?? Math.max(...finite, 0));
  const hi = ticks.at(-1) as number;
  return { ticks, y: (v) => top + height - (v / hi) * height };
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeHtml(content)}</text>`;
}

function header(title: string, subtitle: string | undefined): string {
  return [
    text(LEFT, 26, title, 'font-size="17" font-weight="600"'),
    subtitle ? text(LEFT, 45, subtitle, 'font-size="12" fill="#555"') : '',
  ].join('');
}

/** The document around a chart; its title is also what screen readers announce. */
function svgDocument(title: string, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} font-size="12">`,
    `<title>${escapeHtml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...body,
    '</svg>\n',
  ].join('\n');
}

/** The polyline segments of a series (split at gaps). */
function seriesPath(series: Series, x: (v: number) => number, scale: Scale, log?: boolean) {
  const segments: string[][] = [[]];
  for (const [px, py] of series.points) {
    const drawable = py !== null && Number.isFinite(py) && (!log || py > 0);
    if (drawable) segments.at(-1)?.push(`${x(px).toFixed(1)},${scale.y(py).toFixed(1)}`);
    else if ((segments.at(-1)?.length ?? 0) > 0) segments.push([]);
  }
  const dash = series.dashed ? ' stroke-dasharray="5 3"' : '';
  return segments
    .filter((points) => points.length > 0)
    .map(
      (points) =>
        `<polyline points="${points.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>` +
        (points.length === 1
          ? `<circle cx="${points[0]?.split(',')[0]}" cy="${points[0]?.split(',')[1]}" r="2.5" fill="${series.color}"/>`
          : ''),
    )
    .join('');
}

function legend(series: { name: string; color: string }[], right: number, y: number): string {
  let x = right;
  const items: string[] = [];
  for (const s of [...series].reverse()) {
    const width = 26 + s.name.length * 6.6;
    x -= width;
    items.push(
      `<rect x="${x.toFixed(1)}" y="${y - 9}" width="14" height="10" fill="${s.color}"/>`,
      text(x + 18, y, s.name, 'font-size="12"'),
    );
  }
  return items.join('');
}

/** Stacked line panels sharing an x axis, with bands (e.g. phases) behind them. */
export function lineChart(options: {
  title: string;
  subtitle?: string;
  xLabel: string;
  panels: LinePanel[];
  bands?: Band[];
  panelHeight?: number;
}): string {
  const panelHeight = options.panelHeight ?? 200;
  const gap = 46;
  const top = 78;
  const xs = options.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const bands = options.bands ?? [];
  const x0 = Math.min(...xs, ...bands.map((b) => b.from));
  const x1 = Math.max(...xs, ...bands.map((b) => b.to), x0 + 1);
  const x = (v: number) => LEFT + ((v - x0) / (x1 - x0)) * (WIDTH - LEFT - RIGHT);
  const bottom = top + options.panels.length * (panelHeight + gap) - gap;
  const body = [header(options.title, options.subtitle)];
  bands.forEach((band, i) => {
    const fill = BAND_FILLS[i % BAND_FILLS.length];
    const width = Math.max(0, x(band.to) - x(band.from));
    body.push(
      `<rect x="${x(band.from).toFixed(1)}" y="${top - 14}" width="${width.toFixed(1)}" height="${bottom - top + 14}" fill="${fill}"/>`,
      text(x(band.from) + 4, top - 2, band.label, 'font-size="12" fill="#333" font-weight="600"'),
    );
  });
  options.panels.forEach((panel, i) => {
    const panelTop = top + 8 + i * (panelHeight + gap);
    const height = panelHeight - 8;
    const scale = scaleOf(panel, panelTop, height);
    const format = panel.format ?? String;
    for (const tick of scale.ticks) {
      const y = scale.y(tick);
      body.push(
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`,
        text(LEFT - 6, y + 4, format(tick), 'text-anchor="end" fill="#444"'),
      );
    }
    const mid = panelTop + height / 2;
    body.push(
      text(16, mid, panel.yLabel, `transform="rotate(-90 16 ${mid})" text-anchor="middle"`),
      ...panel.series.map((s) => seriesPath(s, x, scale, panel.log)),
      legend(panel.series, WIDTH - RIGHT, panelTop + 4),
    );
  });
  const ticks = linearTicks(x1 - x0).map((t) => t + x0);
  for (const tick of ticks.filter((t) => t <= x1)) {
    body.push(
      `<line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${bottom}" y2="${bottom + 5}" stroke="#444"/>`,
      text(x(tick), bottom + 18, String(tick), 'text-anchor="middle" fill="#444"'),
    );
  }
  body.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${bottom}" y2="${bottom}" stroke="#444"/>`,
    text((LEFT + WIDTH - RIGHT) / 2, bottom + 36, options.xLabel, 'text-anchor="middle"'),
  );
  return svgDocument(options.title, bottom + 50, body);
}

/** One panel of grouped bars: a group per label (e.g. a policy), a bar per series. */
export interface BarPanel {
  title: string;
  series: { name: string; color: string }[];
  groups: { label: string; values: number[] }[];
  /** Label of a value, above its bar and on the axis. @default String */
  format?: (value: number) => string;
  yMax?: number;
  /** Width relative to the other panels. @default 1 */
  weight?: number;
}

/** Panels of grouped bars side by side, each with its own y axis and legend. */
export function barChart(options: {
  title: string;
  subtitle?: string;
  panels: BarPanel[];
}): string {
  const legendRows = Math.max(...options.panels.map((p) => p.series.length));
  const top = 92 + legendRows * 16;
  const height = 220;
  const gap = 64;
  const weights = options.panels.map((panel) => panel.weight ?? 1);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const unit = (WIDTH - LEFT - RIGHT - gap * (options.panels.length - 1)) / total;
  const body = [header(options.title, options.subtitle)];
  let left = LEFT;
  options.panels.forEach((panel, p) => {
    const width = (weights[p] as number) * unit;
    body.push(barPanel(panel, left, width, top, height));
    left += width + gap;
  });
  return svgDocument(options.title, top + height + 54, body);
}

function barPanel(panel: BarPanel, left: number, width: number, top: number, height: number) {
  const format = panel.format ?? String;
  const ticks = linearTicks(panel.yMax ?? Math.max(...panel.groups.flatMap((g) => g.values), 0));
  const hi = ticks.at(-1) as number;
  const y = (v: number) => top + height - (Math.max(0, v) / hi) * height;
  const parts = [text(left, 72, panel.title, 'font-size="13" font-weight="600"')];
  panel.series.forEach((series, i) => {
    const rowY = 90 + i * 16;
    parts.push(
      `<rect x="${left}" y="${rowY - 9}" width="14" height="10" fill="${series.color}"/>`,
      text(left + 18, rowY, series.name, 'font-size="11"'),
    );
  });
  for (const tick of ticks) {
    parts.push(
      `<line x1="${left}" x2="${(left + width).toFixed(1)}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/>`,
      text(left - 6, y(tick) + 4, format(tick), 'text-anchor="end" fill="#444" font-size="11"'),
    );
  }
  const groupWidth = width / panel.groups.length;
  const barWidth = Math.min(40, (groupWidth * 0.84) / panel.series.length);
  panel.groups.forEach((group, g) => {
    const start = left + g * groupWidth + (groupWidth - barWidth * panel.series.length) / 2;
    group.values.forEach((value, i) => {
      const x = start + i * barWidth;
      const color = panel.series[i]?.color ?? '#888';
      const barHeight = (top + height - y(value)).toFixed(1);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
        text(
          x + barWidth / 2 - 1,
          y(value) - 4,
          format(value),
          'text-anchor="middle" font-size="10"',
        ),
      );
    });
    // A label may be split over lines with \n (e.g. `allkeys-\nlru`).
    const labelX = left + (g + 0.5) * groupWidth;
    group.label.split('\n').forEach((line, i) => {
      parts.push(
        text(labelX, top + height + 18 + i * 14, line, 'text-anchor="middle" font-size="11"'),
      );
    });
  });
  parts.push(
    `<line x1="${left}" x2="${(left + width).toFixed(1)}" y1="${top + height}" y2="${top + height}" stroke="#444"/>`,
  );
  return parts.join('');
}
