import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `<out>/<name>.svg` and `<out>/<name>.json`; returns their paths. */
export async function saveDemo(
  out: string,
  name: string,
  files: { svg: string; json: unknown },
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const svg = join(out, `${name}.svg`);
  const json = join(out, `${name}.json`);
  await writeFile(svg, files.svg);
  await writeFile(json, `${JSON.stringify(files.json, null, 2)}\n`);
  return [svg, json];
}

/** A ratio as a percentage with one decimal (`—` when unknown). */
export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(1)}%`;
}

/** Milliseconds with one decimal below 10 ms, none above (`—` when unknown). */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}
