import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { CacheRead, Loaded } from '@cachelab/cache';
import type { WriteCondition } from '@cachelab/store';
import type { IRouter, Request, RequestHandler, Response } from 'express';
import {
  acceptedVersions,
  etagOf,
  noneMatchFails,
  parseEntityTags,
  type EntityTagCondition as Tags,
} from '../conditional.ts';
import type { AppDeps, RequestInfo } from '../deps.ts';
import { appErrorCodes, HttpError } from '../errors.ts';
import { answerError, assertNoQuery, methodNotAllowed, rejectQuery } from '../middleware/errors.ts';
import { sendUserAnswer, userAnswerOf } from '../user-answer.ts';
import { toUserBody, type UserBody, userKey } from '../user-view.ts';
import { isUserId, parseReadOptions, parseUserId, parseUserInput } from '../validation.ts';

/** The write condition of a request's `If-Match`, if it has one (400 when malformed). */
function writeConditionOf(req: Request): WriteCondition | undefined {
  const ifMatch = parseEntityTags('If-Match', req.get('if-match'));
  return ifMatch === undefined ? undefined : { ifMatch: acceptedVersions(ifMatch) };
}

/**
 * Answers a request from L1 before Express, when it can: true when it did, false when the request
 * is Express's to answer (nothing written, nothing counted).
 */
export type L1Answer = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The route of one user: Express's pattern, and the metrics label of the reads L1 answers. */
export const USER_ROUTE = '/users/:id';

/** `/users/`: what precedes the id in the one spelling of the path answered before Express. */
const USER_PATH_PREFIX = USER_ROUTE.slice(0, USER_ROUTE.indexOf(':'));

/**
 * Adds `GET/PUT/DELETE /users/:id` and `POST /users` to `router`: cache-aside reads, invalidating
 * writes. None takes a query string (400); `parseBody` runs before the writes that carry a body.
 * Every user answer carries `ETag: "v<version>"`; a GET honours `If-None-Match` (304), a PUT or
 * DELETE `If-Match` (412, checked by the database write itself). Another method on these paths
 * is a 405 with `Allow`.
 *
 * Returns the L1-hit half of that GET, for the server to run before Express (see
 * {@link L1Answer}); `onError` hears of a bug there, as Express's error handler tells it.
 */
export function addUserRoutes(
  router: IRouter,
  { users, cache }: AppDeps,
  parseBody: RequestHandler[],
  onError: (error: unknown, request: RequestInfo) => void,
): L1Answer {
  // #region tutorial:get-user
  async function loadUser(key: string): Promise<Loaded<UserBody>> {
    const row = await users.get(key.slice('user:'.length));
    if (!row) return { value: null, version: 0 };
    return { value: row.deleted ? null : toUserBody(row), version: row.version };
  }

  /** Answers a read: the tier, then 404 for no user, else its headers and 304 or its JSON. */
  function answerRead(
    res: ServerResponse,
    id: string,
    read: CacheRead<UserBody>,
    ifNoneMatch?: Tags,
  ) {
    res.setHeader('X-Cache', read.tier);
    // An expired copy served because the database failed (STALE_IF_ERROR_MS): say how old.
    if (read.ageMs !== undefined) res.setHeader('Age', String(Math.floor(read.ageMs / 1000)));
    if (!read.value) throw new HttpError(404, appErrorCodes.userNotFound, `no user ${id}`);
    // Bytes and header values kept with the cached object: an L1 hit builds none of them.
    const answer = userAnswerOf(read.value);
    // The client's copy is current (If-None-Match): headers only, no body.
    const { version } = read.value;
    const notModified = ifNoneMatch !== undefined && noneMatchFails(ifNoneMatch, version);
    sendUserAnswer(res, answer, notModified);
  }

  /** What a read asks for besides the id, from its headers (400 when one is malformed). */
  function readOptionsOf(headers: IncomingHttpHeaders) {
    // Node joins a repeated header of these names into one string (only Set-Cookie is an array).
    const named = headers as Record<string, string | undefined>;
    const options = parseReadOptions(named['x-min-version'], named['x-consistency']);
    const ifNoneMatch = parseEntityTags('If-None-Match', named['if-none-match']);
    return { options, ifNoneMatch };
  }

  router.get(USER_ROUTE, (req, res, next) => {
    assertNoQuery(req);
    const id = parseUserId(req.params.id);
    const { options, ifNoneMatch } = readOptionsOf(req.headers);
    const key = userKey(id);
    // An L1 hit is answered at once, without a promise; anything else goes through getOrLoad.
    const hit = cache.getLocal(key, loadUser, options);
    if (hit) return answerRead(res, id, hit, ifNoneMatch);
    cache
      .getOrLoad(key, loadUser, options)
      .then((read) => answerRead(res, id, read, ifNoneMatch))
      .catch(next);
  });
  // #endregion tutorial:get-user

  // #region tutorial:put-user
  router.put(USER_ROUTE, rejectQuery, parseBody, async (req: Request, res: Response) => {
    const id = parseUserId(req.params.id);
    const condition = writeConditionOf(req);
    const input = parseUserInput(req.body);
    // With If-Match the database checks the version in the UPDATE itself: no lost update.
    const { user, created } = await users.put(id, input, condition);
    const body = toUserBody(user);
    // The database commit comes first; only then may readers be told to look again.
    await cache.set(userKey(id), { value: body, version: user.version });
    res
      .status(created ? 201 : 200)
      .set('X-Version', String(user.version))
      .set('ETag', etagOf(user.version))
      .json(body);
  });
  // #endregion tutorial:put-user

  router.post('/users', rejectQuery, parseBody, async (req: Request, res: Response) => {
    const input = parseUserInput(req.body);
    const user = await users.create(input);
    const body = toUserBody(user);
    await cache.set(userKey(user.id), { value: body, version: user.version });
    res
      .status(201)
      .location(`/users/${user.id}`)
      .set('X-Version', String(user.version))
      .set('ETag', etagOf(user.version))
      .json(body);
  });

  router.delete(USER_ROUTE, rejectQuery, async (req, res) => {
    const id = parseUserId(req.params.id);
    const tombstone = await users.delete(id, writeConditionOf(req));
    if (!tombstone) throw new HttpError(404, appErrorCodes.userNotFound, `no user ${id}`);
    await cache.set(userKey(id), { value: null, version: tombstone.version });
    res.status(204).set('X-Version', String(tombstone.version)).end();
  });

  // Any other method on these paths is a 405 (the path exists), never reached by the routes above.
  router.all(USER_ROUTE, methodNotAllowed(['GET', 'HEAD', 'PUT', 'DELETE']));
  router.all('/users', methodNotAllowed(['POST']));

  // The GET above, for the server to run before Express's router, which costs an L1 hit more CPU
  // than the cache does: only a GET or HEAD of exactly `/users/<id>` (no query, no other spelling
  // of the path) that L1 answers. Anything else (a malformed header included, nothing counted
  // yet) is left to the route, which answers it the same way.
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (!url.startsWith(USER_PATH_PREFIX)) return false;
    const id = url.slice(USER_PATH_PREFIX.length);
    if (!isUserId(id)) return false;
    let asked: ReturnType<typeof readOptionsOf>;
    try {
      asked = readOptionsOf(req.headers);
    } catch {
      return false;
    }
    const hit = cache.getLocal(userKey(id), loadUser, asked.options);
    if (hit === undefined) return false;
    try {
      answerRead(res, id, hit, asked.ifNoneMatch);
    } catch (error) {
      // Counted as read: a cached "not found" is answered here, as the route's error handler would.
      if (res.headersSent) res.destroy(error as Error);
      else answerError(error, req, res, onError);
    }
    return true;
  };
}
