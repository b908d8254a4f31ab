import type { ServerResponse } from 'node:http';
import { etagOf } from './conditional.ts';
import type { UserBody } from './user-view.ts';

/** What answering a user writes besides the status and the per-request headers. */
export interface UserAnswer {
  /**
   * The JSON of the user, as `res.json` would send it. A string, not bytes: Node writes the
   * headers and a string body of one `end()` as one chunk, a Buffer body as a second one.
   */
  readonly body: string;
  /** Its length in UTF-8 bytes (`Content-Length` of a HEAD, which sends no body). */
  readonly bodyBytes: number;
  /** `X-Version`: the version, in decimal. */
  readonly version: string;
  /** `ETag`: `"v<version>"`. */
  readonly etag: string;
}

// Held as long as the user object itself: the cache hands out the same object on every L1 hit of
// an entry, so the entry's answer lives (and dies) with the entry, and a hit writes bytes and
// strings made once instead of running JSON.stringify and building headers. Users are never
// mutated (none is).
const answers = new WeakMap<UserBody, UserAnswer>();

/** The answer of `user`, built once per object. */
export function userAnswerOf(user: UserBody): UserAnswer {
  let answer = answers.get(user);
  if (answer === undefined) {
    const body = JSON.stringify(user);
    answer = {
      body,
      bodyBytes: Buffer.byteLength(body),
      version: String(user.version),
      etag: etagOf(user.version),
    };
    answers.set(user, answer);
  }
  return answer;
}

/**
 * Sets `X-Version` and `ETag` of `answer`, then sends 304 without a body when `notModified`, or
 * else its JSON as `res.json` would (same `Content-Type`, body and `Content-Length`).
 */
export function sendUserAnswer(
  res: ServerResponse,
  answer: UserAnswer,
  notModified: boolean,
): void {
  res.setHeader('X-Version', answer.version);
  res.setHeader('ETag', answer.etag);
  if (notModified) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  // Node adds `Content-Length` itself when end() gets the whole body, except for HEAD (no body).
  if (res.req.method === 'HEAD') res.setHeader('Content-Length', answer.bodyBytes);
  res.end(answer.body);
}
