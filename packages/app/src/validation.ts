import type { ReadOptions } from '@cachelab/cache';
import type { UserInput } from '@cachelab/store';
import { appErrorCodes, HttpError } from './errors.ts';

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USER_FIELDS = ['name', 'email', 'age'] as const;
const NO_READ_OPTIONS: ReadOptions = Object.freeze({});

/** Returns `raw` when it is a valid user id (`[A-Za-z0-9_-]`, 1-64 characters); 400 otherwise. */
export function parseUserId(raw: unknown): string {
  if (isUserId(raw)) return raw;
  throw new HttpError(
    400,
    appErrorCodes.invalidId,
    'user ids are 1-64 characters of [A-Za-z0-9_-]',
  );
}

/** Whether `raw` is a user id: what {@link parseUserId} accepts. */
export function isUserId(raw: unknown): raw is string {
  return typeof raw === 'string' && USER_ID.test(raw);
}

/**
 * Validates a full user body: exactly `name` (1-100 characters), `email` (an address, at most 254
 * characters), both without NUL or unpaired surrogates, and `age` (an integer 0-150). Anything
 * else is a 400 naming the field.
 */
export function parseUserInput(body: unknown): UserInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('the body must be a JSON object with name, email and age');
  }
  const unknown = Object.keys(body).filter(
    (key) => !(USER_FIELDS as readonly string[]).includes(key),
  );
  if (unknown.length > 0) throw invalid(`unknown field(s): ${unknown.slice(0, 5).join(', ')}`);
  const { name, email, age } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100) {
    throw invalid('`name` must be a non-empty string of at most 100 characters');
  }
  if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) {
    throw invalid('`email` must be an e-mail address of at most 254 characters');
  }
  // Else the database refuses the write (a 500) or stores something other than what was sent.
  if (!storable(name)) throw invalid('`name` must not hold a NUL or an unpaired surrogate');
  if (!storable(email)) throw invalid('`email` must not hold a NUL or an unpaired surrogate');
  if (typeof age !== 'number' || !Number.isInteger(age) || age < 0 || age > 150) {
    throw invalid('`age` must be an integer from 0 to 150');
  }
  return { name, email, age };
}

/** Text the database stores as sent: Postgres refuses NUL, and UTF-8 cannot hold a lone surrogate. */
function storable(text: string): boolean {
  return !text.includes('\u0000') && !/\p{Cs}/u.test(text);
}

function invalid(message: string): HttpError {
  return new HttpError(400, appErrorCodes.invalidBody, message);
}

/**
 * Reads the per-request read options: `X-Min-Version` (a version the client wrote or saw; never
 * answer older) and `X-Consistency` (`eventual` or `strict`). Anything else is a 400, and so is a
 * header sent twice: Node joins repeated headers with `, `, which no valid value contains.
 */
export function parseReadOptions(
  minVersion: string | undefined,
  consistency: string | undefined,
): ReadOptions {
  // The common case (neither header): one shared object, no allocation per request.
  if (minVersion === undefined && consistency === undefined) return NO_READ_OPTIONS;
  const options: ReadOptions = {};
  rejectRepeated('X-Min-Version', minVersion);
  rejectRepeated('X-Consistency', consistency);
  if (minVersion !== undefined) {
    const value = Number(minVersion);
    if (!/^\d{1,16}$/.test(minVersion) || !Number.isSafeInteger(value)) {
      throw new HttpError(
        400,
        appErrorCodes.invalidHeader,
        '`X-Min-Version` must be a version number',
      );
    }
    options.minVersion = value;
  }
  if (consistency !== undefined) {
    if (consistency !== 'eventual' && consistency !== 'strict') {
      throw new HttpError(
        400,
        appErrorCodes.invalidHeader,
        '`X-Consistency` must be eventual or strict',
      );
    }
    options.consistency = consistency;
  }
  return options;
}

/** A header that arrived more than once (or as a comma-separated list) is a 400 that says so. */
function rejectRepeated(name: string, value: string | undefined): void {
  if (value?.includes(',')) {
    throw new HttpError(
      400,
      appErrorCodes.invalidHeader,
      `\`${name}\` is a repeated header (got "${value.slice(0, 100)}"): send it once, with one value`,
    );
  }
}
