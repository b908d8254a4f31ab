"""The instance's HTTP API as an ASGI app: the contract of a Node instance (docs/http-api.md),
route for route, header for header, error code for error code.

Routing is by hand over the raw path, as Express matches it: the id is percent-decoded only
after the route matched (``/users/a%2Fb`` is the id ``a/b``, a 400, not another route)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cachelab import (
    CachelabError,
    CacheRead,
    InvalidKeyError,
    Loaded,
    OverloadedError,
    VersionUnavailableError,
)
from cachelab.asyncio import Cache
from cachelab_instance import errors
from cachelab_instance.errors import HttpError
from cachelab_instance.observe import Metrics, Propagation, cache_stats
from cachelab_instance.outbox import OutboxRelay
from cachelab_instance.users import UsersRepository
from cachelab_instance.validation import (
    accepted_versions,
    etag_of,
    none_match_fails,
    parse_entity_tags,
    parse_read_options,
    parse_user_id,
    parse_user_input,
)

log = logging.getLogger("cachelab_instance")

#: Largest request body accepted (bytes), as Node's ``express.json({limit: '16kb'})``.
BODY_LIMIT = 16 * 1024
#: Most bytes of header fields a request may carry, each field counted as its name, its value and
#: 4 bytes (``: `` and CRLF), as the Node and Go instances count them; over it, 431.
HEADER_LIMIT = 16 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_USER_PATH = re.compile(r"/users/([^/]+?)/?", re.IGNORECASE)
_USERS_PATH = re.compile(r"/users/?", re.IGNORECASE)
_OPS_PATHS = {"/healthz", "/readyz", "/stats", "/metrics"}
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CHARSET = re.compile(r';\s*charset\s*=\s*"?([^";\s]*)', re.IGNORECASE)
_JSON = "application/json; charset=utf-8"
#: The scheme and authority of an absolute-form request target (``GET http://host/users/1``).
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
#: One token of JSON, after blanks, for checking nesting too deep for ``json.loads``.
_JSON_TOKEN = re.compile(
    r"[ \t\n\r]*(?:(?P<open>[\[{])|(?P<close>[\]}])|(?P<comma>,)|(?P<colon>:)"
    r'|(?P<string>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*")'
    r"|(?P<scalar>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null))"
)


@dataclass
class Deps:
    """What the app serves from: built by ``main``, or by a test."""

    instance: dict[str, str]  # name, id, and runId under npm start
    cache: Cache[dict[str, Any]]
    users: UsersRepository
    redis_ping: Callable[[], Awaitable[Any]]
    relay: OutboxRelay | None = None
    propagation: Propagation = field(default_factory=Propagation)
    draining: bool = False


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _error_response(error: HttpError) -> Response:
    headers = dict(error.headers)
    if error.status == 503:
        headers["Retry-After"] = "1"
    body = {"error": {"code": error.code, "message": error.message}}
    return Response(_json_bytes(body), error.status, headers, _JSON)


def _decode_component(raw: str) -> str:
    """``decodeURIComponent``: a malformed escape or invalid UTF-8 is a 400, as in Express."""
    if _PERCENT.search(raw):
        raise HttpError(400, errors.BAD_REQUEST, "the request could not be understood")
    try:
        data = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), raw).encode(
            "latin-1"
        )
        return data.decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        # Not percent-encoded bytes of UTF-8 (or a raw non-ASCII path): same answer.
        raise HttpError(400, errors.BAD_REQUEST, "the request could not be understood") from None


def _no_query(request: Request) -> None:
    """No route of the users API takes a query string: any parameter is a 400."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    if not query:
        return
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
    if names:
        shown = ", ".join(json.dumps(name[:32]) for name in names[:3])
        raise HttpError(400, errors.INVALID_QUERY, f"no query parameters here; got {shown}")


def _header(request: Request, name: str) -> str | None:
    """A header as Node gives it: repeated ones joined with ``, ``."""
    values = request.headers.getlist(name)
    return ", ".join(values) if values else None


def _method_not_allowed(methods: list[str], request: Request, path: str) -> Response:
    allow = ", ".join([*methods, "OPTIONS"])
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    return _error_response(
        HttpError(
            405,
            errors.METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed on {path}; allowed: {allow}",
            {"Allow": allow},
        )
    )


class App:
    """The ASGI application of one instance."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        identity = {"name": deps.instance["name"], "id": deps.instance["id"]}
        self.metrics = Metrics({**identity, "strategy": "versioned"}, self)
        deps.propagation.observers.append(self.metrics.observe_propagation)
        deps.users.on_query = self.metrics.observe_query
        self._started = time.monotonic()
        self._name = f"{deps.instance['name']}/{deps.instance['id']}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        route, response = await self._dispatch(request)
        given = request.headers.get("x-request-id")
        valid = given is not None and _REQUEST_ID.fullmatch(given) is not None
        response.headers["X-Request-Id"] = given if given and valid else str(uuid.uuid4())
        response.headers["X-Instance"] = self._name
        if self.deps.draining:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)
        tier = response.headers.get("x-cache", "none")
        elapsed = time.perf_counter() - started
        self.metrics.observe_request(request.method, route, response.status_code, tier, elapsed)

    async def _dispatch(self, request: Request) -> tuple[str, Response]:
        raw = scope_path(request.scope)
        try:
            _check_header_size(request.scope)
            if (match := _USER_PATH.fullmatch(raw)) is not None:
                return "/users/:id", await self._user(request, match.group(1))
            if _USERS_PATH.fullmatch(raw):
                if request.method != "POST":
                    return "/users", _method_not_allowed(["POST"], request, raw)
                return "/users", await self._create(request)
            path = raw.rstrip("/").lower() or "/"
            if path in _OPS_PATHS:
                if request.method not in ("GET", "HEAD"):
                    return path, _method_not_allowed(["GET", "HEAD"], request, raw)
                return path, await self._ops(path)
            raise HttpError(404, errors.ROUTE_NOT_FOUND, f"no route for {request.method} {raw}")
        except HttpError as error:
            route = "/users/:id" if _USER_PATH.fullmatch(raw) else "unmatched"
            return route, _error_response(error)
        except Exception as error:
            http = _http_error_of(error)
            if http.code == errors.INTERNAL:
                log.error("unexpected error on %s %s", request.method, raw, exc_info=error)
            return "unmatched", _error_response(http)

    # --- users -------------------------------------------------------------------------------

    async def _user(self, request: Request, raw_id: str) -> Response:
        method = request.method
        if method in ("GET", "HEAD"):
            return await self._get(request, raw_id)
        if method == "PUT":
            return await self._put(request, raw_id)
        if method == "DELETE":
            return await self._delete(request, raw_id)
        return _method_not_allowed(
            ["GET", "HEAD", "PUT", "DELETE"], request, scope_path(request.scope)
        )

    async def _load(self, key: str) -> Loaded[dict[str, Any]]:
        user = await self.deps.users.get(key.removeprefix("user:"))
        if user is None:
            return Loaded(None, 0)
        return Loaded(None if user.deleted else user.body(), user.version)

    async def _get(self, request: Request, raw_id: str) -> Response:
        _no_query(request)
        user_id = parse_user_id(_decode_component(raw_id))
        options = parse_read_options(
            _header(request, "x-min-version"), _header(request, "x-consistency")
        )
        if_none_match = parse_entity_tags("If-None-Match", _header(request, "if-none-match"))
        key = f"user:{user_id}"
        read: CacheRead[dict[str, Any]] | None = None
        if options.consistency == "eventual":
            read = self.deps.cache.get_local(key, min_version=options.min_version)
        if read is None:
            read = await self.deps.cache.get_or_load(
                key, self._load, min_version=options.min_version, consistency=options.consistency
            )
        headers: dict[str, str] = {"X-Cache": read.tier}
        if read.value is None:
            error = HttpError(404, errors.USER_NOT_FOUND, f"no user {user_id}", headers)
            return _error_response(error)
        version = int(read.value["version"])
        headers["X-Version"] = str(version)
        headers["ETag"] = etag_of(version)
        if if_none_match is not None and none_match_fails(if_none_match, version):
            return Response(status_code=304, headers=headers)
        body = _json_bytes(read.value)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=_JSON)
        return Response(body, 200, headers, _JSON)

    async def _body(self, request: Request) -> Any:
        """The JSON body, checked as Node's ``requireJson`` and ``express.json`` check it."""
        content_type = request.headers.get("content-type", "")
        has_body = "transfer-encoding" in request.headers or "content-length" in request.headers
        media = content_type.split(";", 1)[0].strip().lower()
        match = _CHARSET.search(content_type)
        charset = match.group(1).lower() if match else "utf-8"
        if not has_body or media != "application/json" or charset != "utf-8":
            raise HttpError(
                415, errors.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json in UTF-8"
            )
        encoding = _header(request, "content-encoding")
        if encoding is not None and encoding.strip().lower() != "identity":
            raise HttpError(
                415,
                errors.UNSUPPORTED_MEDIA_TYPE,
                f'unsupported Content-Encoding "{encoding[:100]}": send the body uncompressed',
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > BODY_LIMIT:
            raise HttpError(413, errors.BODY_TOO_LARGE, "request entity too large")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > BODY_LIMIT:
                raise HttpError(413, errors.BODY_TOO_LARGE, "request entity too large")
        if not data:
            return {}
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise HttpError(
                415, errors.UNSUPPORTED_MEDIA_TYPE, "the body is not valid UTF-8"
            ) from None
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError as error:
            raise HttpError(400, errors.INVALID_JSON, f"invalid JSON: {error}") from None
        except RecursionError:
            # Nested deeper than the parser goes: never a user, but JSON only if well formed.
            if _well_formed_json(text):
                raise errors.invalid_body(
                    "the body must be a JSON object with name, email and age; it nests too deeply"
                ) from None
            raise HttpError(400, errors.INVALID_JSON, "invalid JSON") from None

    def _if_match(self, request: Request) -> list[int] | bool | None:
        """False without ``If-Match``; None for ``*``; else the versions it accepts."""
        tags = parse_entity_tags("If-Match", _header(request, "if-match"))
        return False if tags is None else accepted_versions(tags)

    async def _put(self, request: Request, raw_id: str) -> Response:
        _no_query(request)
        body = await self._body(request)
        user_id = parse_user_id(_decode_component(raw_id))
        condition = self._if_match(request)
        data = parse_user_input(body)
        user, created = await self.deps.users.put(user_id, data, condition)
        # The database commit comes first; only then may readers be told to look again.
        await self.deps.cache.set(f"user:{user_id}", Loaded(user.body(), user.version))
        headers = {"X-Version": str(user.version), "ETag": etag_of(user.version)}
        return Response(_json_bytes(user.body()), 201 if created else 200, headers, _JSON)

    async def _create(self, request: Request) -> Response:
        _no_query(request)
        data = parse_user_input(await self._body(request))
        user = await self.deps.users.create(data)
        await self.deps.cache.set(f"user:{user.id}", Loaded(user.body(), user.version))
        headers = {
            "Location": f"/users/{user.id}",
            "X-Version": str(user.version),
            "ETag": etag_of(user.version),
        }
        return Response(_json_bytes(user.body()), 201, headers, _JSON)

    async def _delete(self, request: Request, raw_id: str) -> Response:
        _no_query(request)
        user_id = parse_user_id(_decode_component(raw_id))
        tombstone = await self.deps.users.delete(user_id, self._if_match(request))
        if tombstone is None:
            raise HttpError(404, errors.USER_NOT_FOUND, f"no user {user_id}")
        await self.deps.cache.set(f"user:{user_id}", Loaded(None, tombstone.version))
        return Response(status_code=204, headers={"X-Version": str(tombstone.version)})

    # --- operations --------------------------------------------------------------------------

    async def _ops(self, path: str) -> Response:
        if path == "/healthz":
            return Response(_json_bytes({"status": "ok"}), 200, media_type=_JSON)
        if path == "/readyz":
            return await self._readyz()
        if path == "/stats":
            return Response(_json_bytes(self.stats()), 200, media_type=_JSON)
        return Response(generate_latest(self.metrics.registry), 200, media_type=CONTENT_TYPE_LATEST)

    async def _readyz(self) -> Response:
        redis = await _probe(self.deps.redis_ping)
        database = await _probe(self.deps.users.ping)
        ready = database == "ok" and not self.deps.draining
        status = (
            "draining"
            if self.deps.draining
            else "unavailable"
            if not ready
            else "ready"
            if redis == "ok"
            else "degraded"
        )
        cache = self.cache_stats()
        body: dict[str, Any] = {"status": status}
        if "runId" in self.deps.instance:
            body["run"] = self.deps.instance["runId"]
        body |= {
            "checks": {"redis": redis, "database": database},
            "l1": "trusted" if cache["trusted"] else "untrusted",
            "counts": {
                "degradedReads": cache["degradedReads"],
                "redisErrors": cache["redisErrors"],
                "loadsShed": cache["loadsShed"],
            },
        }
        return Response(_json_bytes(body), 200 if ready else 503, media_type=_JSON)

    def cache_stats(self) -> dict[str, Any]:
        """The cache's counters under Node's names."""
        return cache_stats(self.deps.cache.stats(), self.deps.propagation)

    def database_stats(self) -> dict[str, int]:
        """The repository's counters."""
        return dict(self.deps.users.counters)

    def outbox_stats(self) -> dict[str, int]:
        """The relay's counters (zeros without one)."""
        relay = self.deps.relay
        if relay is None:
            return {"relayed": 0, "batches": 0, "setAside": 0, "failures": 0, "notifications": 0}
        return dict(relay.counters)

    def stats(self) -> dict[str, Any]:
        """The ``/stats`` body: the keys of Node's ``StatsResponse``."""
        cache = self.cache_stats()
        hits = cache["l1Hits"] + cache["l2Hits"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {
            "instance": self.deps.instance,
            "uptimeSeconds": round(time.monotonic() - self._started),
            "http": {"requests": self.metrics.requests},
            "cache": {
                **cache,
                "hitRatio": None if cache["reads"] == 0 else hits / cache["reads"],
            },
            "database": self.database_stats(),
            "outbox": None if self.deps.relay is None else self.outbox_stats(),
            "memory": {"rss": rss, "heapUsed": 0, "heapTotal": 0, "external": 0},
        }


def scope_path(scope: Scope) -> str:
    """The path as sent (percent-encoding kept), without the query string."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if isinstance(raw, bytes) else str(scope["path"])
    if not path.startswith("/") and (absolute := _ABSOLUTE_FORM.match(path)) is not None:
        # An absolute-form target: its path, as Node's and Go's servers take it.
        return path[absolute.end() :] or "/"
    return path


def _check_header_size(scope: Scope) -> None:
    """A 431 when the header fields exceed ``HEADER_LIMIT`` in total."""
    size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    if size > HEADER_LIMIT:
        raise HttpError(
            431,
            errors.HEADERS_TOO_LARGE,
            f"the header fields total {size} bytes, over the limit of {HEADER_LIMIT}",
        )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _well_formed_json(text: str) -> bool:
    """Whether ``text`` is one JSON value (as ``json.loads`` with ``_no_constant`` takes it),
    checked token by token without recursion: for nesting too deep for ``json.loads``."""
    stack: list[str] = []  # the open brackets
    expect = "value"  # next: a value, a key, a colon, or "after" a value (comma, close, end)
    opened = False  # the innermost container was just opened, and may close at once
    pos = 0
    while (match := _JSON_TOKEN.match(text, pos)) is not None:
        pos, kind = match.end(), match.lastgroup
        token = match.group(kind or 0)
        if kind == "close":
            if not stack or stack[-1] != ("[" if token == "]" else "{"):
                return False
            if expect != "after" and not opened:
                return False
            stack.pop()
            expect = "after"
        elif kind == "comma":
            if expect != "after" or not stack:
                return False
            expect = "value" if stack[-1] == "[" else "key"
        elif kind == "colon":
            if expect != "colon":
                return False
            expect = "value"
        elif kind == "string" and expect == "key":
            expect = "colon"
        elif expect != "value":
            return False
        elif kind == "open":
            stack.append(token)
            expect = "value" if token == "[" else "key"
        else:
            expect = "after"
        opened = kind == "open"
    return expect == "after" and not stack and text[pos:].strip(" \t\n\r") == ""


async def _probe(check: Callable[[], Awaitable[Any]]) -> str:
    try:
        async with asyncio.timeout(1):
            await check()
    except Exception:  # noqa: BLE001 - whatever the failure, the dependency is down
        return "down"
    return "ok"


def _http_error_of(error: Exception) -> HttpError:
    """Errors of the cache mapped as Node's error middleware maps them; the rest is a 500."""
    if isinstance(error, OverloadedError):
        return HttpError(503, errors.OVERLOADED, "too many database loads in flight; retry shortly")
    if isinstance(error, VersionUnavailableError):
        held = "no version" if error.available == 0 else f"version {error.available}"
        return HttpError(
            412,
            errors.VERSION_UNAVAILABLE,
            f"the database holds {held} of this user, below X-Min-Version {error.min_version}",
        )
    if isinstance(error, InvalidKeyError):
        return HttpError(400, errors.BAD_REQUEST, str(error))
    if isinstance(error, CachelabError):
        return HttpError(500, errors.INTERNAL, "internal error")
    return HttpError(500, errors.INTERNAL, "internal error")
