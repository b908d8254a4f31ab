import { appErrorCodes, HttpError } from './errors.ts';

/** An entity tag of a request header: its opaque part (without quotes) and whether it is weak. */
export interface EntityTag {
  opaque: string;
  weak: boolean;
}

/** A parsed `If-Match` / `If-None-Match`: `*` (any current representation) or a list of tags. */
export type EntityTagCondition = '*' | readonly EntityTag[];

/** Most entity tags one header may list; a longer list is a 400. */
export const MAX_ENTITY_TAGS = 64;

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)"$/;
const VERSION_TAG = /^v(\d{1,16})$/;

/** The `ETag` of a user at `version`: a strong tag, e.g. `"v7"`. */
export function etagOf(version: number): string {
  return `"v${version}"`;
}

/**
 * Parses an `If-Match` or `If-None-Match` header (`name` is for the message): `*`, or a
 * comma-separated list of entity tags (`"v7"`, `W/"v7"`, any well-formed opaque tag, at most
 * {@link MAX_ENTITY_TAGS}). `undefined` when absent; 400 `E_INVALID_HEADER` when malformed.
 */
export function parseEntityTags(
  name: string,
  raw: string | undefined,
): EntityTagCondition | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (value === '*') return '*';
  const parts = value.split(',').map((part) => part.trim());
  const tags: EntityTag[] = [];
  for (const part of parts) {
    // Empty list elements are allowed by the list syntax (RFC 9110 §5.6.1), not an empty header.
    if (part === '' && parts.length > 1) continue;
    const match = ENTITY_TAG.exec(part);
    if (!match || tags.length >= MAX_ENTITY_TAGS) throw malformed(name);
    tags.push({ opaque: match[2] ?? '', weak: match[1] !== undefined });
  }
  if (tags.length === 0) throw malformed(name);
  return tags;
}

function malformed(name: string): HttpError {
  return new HttpError(
    400,
    appErrorCodes.invalidHeader,
    `\`${name}\` must be * or a list of at most ${MAX_ENTITY_TAGS} entity tags such as "v7"`,
  );
}

/** The version an entity tag names, if it is one of ours (`"v7"` → 7). */
function versionOf(tag: EntityTag): number | undefined {
  const digits = VERSION_TAG.exec(tag.opaque)?.[1];
  const version = Number(digits);
  return digits !== undefined && Number.isSafeInteger(version) ? version : undefined;
}

/**
 * `If-None-Match` against the current version, by weak comparison (RFC 9110 §13.1.2): true when
 * the client's copy is current, and a GET answers 304.
 */
export function noneMatchFails(condition: EntityTagCondition, version: number): boolean {
  if (condition === '*') return true;
  return condition.some((tag) => versionOf(tag) === version);
}

/**
 * The versions an `If-Match` accepts, by strong comparison (RFC 9110 §13.1.1): weak tags and tags
 * that are not ours match nothing. `'*'` accepts any current user.
 */
export function acceptedVersions(condition: EntityTagCondition): '*' | number[] {
  if (condition === '*') return '*';
  const versions: number[] = [];
  for (const tag of condition) {
    const version = tag.weak ? undefined : versionOf(tag);
    if (version !== undefined) versions.push(version);
  }
  return versions;
}
