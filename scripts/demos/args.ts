/**
 * Command-line handling shared by the demos: the options every demo takes, and parsers for
 * durations, counts and ratios that stop the demo with a message naming the option.
 */

/** Options every demo accepts (spread into its own `parseArgs` options). */
export const COMMON_OPTIONS = {
  out: { type: 'string', default: 'lab-results/demos' },
  quick: { type: 'boolean', default: false },
  urls: { type: 'string' },
  'redis-url': { type: 'string' },
  seed: { type: 'string', default: '42' },
  help: { type: 'boolean', default: false },
} as const;

/** The usage lines of {@link COMMON_OPTIONS}. */
export const COMMON_USAGE = `  --out DIR              where the chart (.svg) and the numbers (.json) go (default lab-results/demos)
  --quick                a few seconds per phase, for tests and a first look
  --seed N               seed of the workload (default 42)`;

/** Prints `message` prefixed with the demo's name and exits with status 1. */
export function fail(demo: string, message: string): never {
  console.error(`${demo}: ${message}`);
  process.exit(1);
}

/** A duration option: milliseconds, or seconds with an `s` (`1500`, `2s`, `1.5s`). */
export function parseDuration(demo: string, name: string, text: string): number {
  const value = text.endsWith('s') ? Number(text.slice(0, -1)) * 1000 : Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    fail(demo, `--${name} must be a duration (ms, or seconds like 2s)`);
  }
  return Math.round(value);
}

/** An integer option of at least `min`. */
export function parseCount(demo: string, name: string, text: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) fail(demo, `--${name} must be an integer ≥ ${min}`);
  return value;
}

/** A number option within [min, max]. */
export function parseNumber(
  demo: string,
  name: string,
  text: string,
  min: number,
  max: number,
): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    fail(demo, `--${name} must be a number from ${min} to ${max}`);
  }
  return value;
}

/** `--urls a,b,c` as instance targets named app-1, app-2, … (trailing slashes dropped). */
export function parseUrls(demo: string, text: string): { name: string; url: string }[] {
  const urls = text.split(',').map((url) => url.trim().replace(/\/+$/, ''));
  for (const url of urls) {
    if (!URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) {
      fail(demo, `--urls: "${url}" is not an http:// URL`);
    }
  }
  return urls.map((url, i) => ({ name: `app-${i + 1}`, url }));
}
