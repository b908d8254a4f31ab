/**
 * Durations on the command line, one rule for every script: a number with a unit `ms`, `s` or `m`
 * (`500ms`, `2.5s`, `1m`; whatever the `ms` package reads, so `1h` too), or a bare number, which
 * means seconds (`--duration 4` is four seconds, never four milliseconds).
 */
import ms from 'ms';

/** What a duration may look like, for messages. */
export const DURATION_FORMS = '500ms, 2.5s, 1m, or a bare number of seconds';

/** Bounds of a duration option, in milliseconds; both inclusive. */
export interface DurationRange {
  /** @default 0 */
  minMs?: number;
  /** @default Infinity */
  maxMs?: number;
}

const BARE_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Reads `text` as a duration and returns whole milliseconds (rounded).
 *
 * @throws {RangeError} naming what is accepted when `text` is not a duration or lies outside
 *   `range` (the message does not name the option: the caller adds it).
 */
export function parseDuration(text: string, range: DurationRange = {}): number {
  const trimmed = text.trim();
  const value = BARE_SECONDS.test(trimmed) ? Number(trimmed) * 1000 : readWithUnit(trimmed);
  if (value === undefined || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`not a duration; accepted: ${DURATION_FORMS}`);
  }
  const { minMs = 0, maxMs = Number.POSITIVE_INFINITY } = range;
  const rounded = Math.round(value);
  if (rounded < minMs || rounded > maxMs) {
    const bare = BARE_SECONDS.test(trimmed) ? ' (a bare number means seconds)' : '';
    throw new RangeError(
      `${formatDuration(rounded)}${bare} is out of range; accepted: ${describeRange(minMs, maxMs)}`,
    );
  }
  return rounded;
}

/** A duration in milliseconds as the shortest exact form `parseDuration` reads back (`1.5s`). */
export function formatDuration(milliseconds: number): string {
  if (milliseconds !== 0 && milliseconds % 60_000 === 0) return `${milliseconds / 60_000}m`;
  if (milliseconds >= 1000 && milliseconds % 100 === 0) return `${milliseconds / 1000}s`;
  return `${milliseconds}ms`;
}

function readWithUnit(text: string): number | undefined {
  // `ms` throws on an empty or over-long string and answers undefined for anything else it cannot read.
  if (text === '' || text.length > 100) return undefined;
  const value = ms(text as ms.StringValue);
  return typeof value === 'number' ? value : undefined;
}

function describeRange(minMs: number, maxMs: number): string {
  if (maxMs === Number.POSITIVE_INFINITY) return `at least ${formatDuration(minMs)}`;
  return `${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
}
