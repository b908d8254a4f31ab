import type { Loaded } from '@cachelab/cache';
import type { WriteCondition } from '@cachelab/store';
import type { IRouter, Request, RequestHandler, Response } from 'express';
import { acceptedVersions, etagOf, noneMatchFails, parseEntityTags } from '../conditional.ts';
import type { AppDeps } from '../deps.ts';
import { errorCodes, HttpError } from '../errors.ts';
import { sendJsonBytes } from '../json-bytes.ts';
import { rejectQuery } from '../middleware/errors.ts';
import { toUserBody, type UserBody, userKey } from '../user-view.ts';
import { parseReadOptions, parseUserId, parseUserInput } from '../validation.ts';

/** The write condition of a request's `If-Match`, if it has one (400 when malformed). */
function writeConditionOf(req: Request): WriteCondition | undefined {
  const ifMatch = parseEntityTags('If-Match', req.get('if-match'));
  return ifMatch === undefined ? undefined : { ifMatch: acceptedVersions(ifMatch) };
}

/**
 * Adds `GET/PUT/DELETE /users/:id` and `POST /users` to `router`: cache-aside reads, invalidating
 * writes. None takes a query string (400); `parseBody` runs before the writes that carry a body.
 * Every user answer carries `ETag: "v<version>"`; a GET honours `If-None-Match` (304), a PUT or
 * DELETE `If-Match` (412, checked by the database write itself).
 */
export function addUserRoutes(
  router: IRouter,
  { users, cache }: AppDeps,
  parseBody: RequestHandler[],
): void {
  // #region tutorial:get-user
  async function loadUser(key: string): Promise<Loaded<UserBody>> {
    const row = await users.get(key.slice('user:'.length));
    if (!row) return { value: null, version: 0 };
    return { value: row.deleted ? null : toUserBody(row), version: row.version };
  }

  router.get('/users/:id', rejectQuery, async (req, res) => {
    const id = parseUserId(req.params.id);
    const options = parseReadOptions(req.get('x-min-version'), req.get('x-consistency'));
    const ifNoneMatch = parseEntityTags('If-None-Match', req.get('if-none-match'));
    const read = await cache.getOrLoad(userKey(id), loadUser, options);
    res.setHeader('X-Cache', read.tier);
    // An expired copy served because the database failed (STALE_IF_ERROR_MS): say how old.
    if (read.ageMs !== undefined) res.setHeader('Age', String(Math.floor(read.ageMs / 1000)));
    if (!read.value) throw new HttpError(404, errorCodes.userNotFound, `no user ${id}`);
    const { version } = read.value;
    res.setHeader('X-Version', String(version));
    res.setHeader('ETag', etagOf(version));
    // The client's copy is current: headers only, no body.
    if (ifNoneMatch && noneMatchFails(ifNoneMatch, version)) res.status(304).end();
    // Bytes kept with the cached object: an L1 hit serializes nothing.
    else sendJsonBytes(res, read.value);
  });
  // #endregion tutorial:get-user

  // #region tutorial:put-user
  router.put('/users/:id', rejectQuery, parseBody, async (req: Request, res: Response) => {
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

  router.delete('/users/:id', rejectQuery, async (req, res) => {
    const id = parseUserId(req.params.id);
    const tombstone = await users.delete(id, writeConditionOf(req));
    if (!tombstone) throw new HttpError(404, errorCodes.userNotFound, `no user ${id}`);
    await cache.set(userKey(id), { value: null, version: tombstone.version });
    res.status(204).set('X-Version', String(tombstone.version)).end();
  });
}
