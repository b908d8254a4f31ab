"""Bad requests a Python instance must answer as Node and Go answer them (the contract of
``packages/lab/src/lab/bad-requests.ts``): bodies sent as raw bytes, headers and request lines
that a well-behaved client would never send."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import Instance

USER = b'{"name":"Nested","email":"n@example.com","age":3}'


def send(
    instance: Instance,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Status and JSON body of one request whose body and headers go out exactly as given."""
    url = urlsplit(instance.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return response.status, json.loads(raw) if raw else None


def code_of(answer: tuple[int, Any]) -> tuple[int, str]:
    status, body = answer
    return status, body["error"]["code"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", " GZIP ", "identity, gzip", ""])
def test_refuses_a_body_in_a_content_encoding_other_than_identity(
    instance: Instance, encoding: str
) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    put = send(instance, "/users/coded", "PUT", USER, headers)
    assert code_of(put) == (415, "E_UNSUPPORTED_MEDIA_TYPE")
    assert code_of(send(instance, "/users", "POST", USER, headers)) == (
        415,
        "E_UNSUPPORTED_MEDIA_TYPE",
    )
    assert send(instance, "/users/coded")[0] == 404


def test_takes_identity_as_no_encoding_and_checks_the_type_before_the_encoding(
    instance: Instance,
) -> None:
    identity = {"Content-Type": "application/json", "Content-Encoding": " Identity "}
    assert send(instance, "/users/plain", "PUT", USER, identity)[0] == 201
    # Content-Type, then Content-Encoding, then size: each 415 or 413 as the first check says.
    text = {"Content-Type": "text/plain", "Content-Encoding": "gzip"}
    assert code_of(send(instance, "/users/plain", "PUT", USER, text)) == (
        415,
        "E_UNSUPPORTED_MEDIA_TYPE",
    )
    huge = json.dumps({"name": "x" * 20_000, "email": "a@b.co", "age": 3}).encode()
    gzip = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert code_of(send(instance, "/users/plain", "PUT", huge, gzip)) == (
        415,
        "E_UNSUPPORTED_MEDIA_TYPE",
    )
    plain = {"Content-Type": "application/json"}
    assert code_of(send(instance, "/users/plain", "PUT", huge, plain)) == (
        413,
        "E_BODY_TOO_LARGE",
    )


def test_refuses_a_body_that_is_not_utf_8_and_stores_nothing(instance: Instance) -> None:
    body = b'{"name":"\xff\xfe","email":"n@example.com","age":3}'
    headers = {"Content-Type": "application/json"}
    status, error = send(instance, "/users/latin", "PUT", body, headers)
    assert (status, error["error"]["code"]) == (415, "E_UNSUPPORTED_MEDIA_TYPE")
    assert "UTF-8" in error["error"]["message"]
    assert code_of(send(instance, "/users", "POST", body, headers))[0] == 415
    assert send(instance, "/users/latin")[0] == 404
    # Too large comes before not UTF-8; a byte-order mark is UTF-8 but not JSON.
    big = b'{"name":"\xff' + b"x" * 20_000 + b'","email":"n@example.com","age":3}'
    assert code_of(send(instance, "/users/latin", "PUT", big, headers)) == (
        413,
        "E_BODY_TOO_LARGE",
    )
    bom = b"\xef\xbb\xbf" + USER
    assert code_of(send(instance, "/users/latin", "PUT", bom, headers)) == (400, "E_INVALID_JSON")


def test_refuses_json_nested_deeper_than_the_parser_as_a_body_of_the_wrong_shape(
    instance: Instance,
) -> None:
    deep = b'{"name":' + b"[" * 5000 + b"]" * 5000 + b',"email":"n@example.com","age":3}'
    headers = {"Content-Type": "application/json"}
    for path, method in (("/users/deep", "PUT"), ("/users", "POST")):
        status, error = send(instance, path, method, deep, headers)
        assert (status, error["error"]["code"]) == (400, "E_INVALID_BODY")
        assert "recursion" not in error["error"]["message"]
    assert code_of(send(instance, "/users/deep", "PUT", b"[" * 5000, headers)) == (
        400,
        "E_INVALID_JSON",
    )


def send_raw(instance: Instance, request: bytes, piece: int = 1 << 20) -> tuple[int, Any]:
    """Status and JSON body of a request written as raw bytes, ``piece`` bytes at a time (the
    server then reads a long head in several pieces too)."""
    url = urlsplit(instance.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=10) as connection:
        for start in range(0, len(request), piece):
            connection.sendall(request[start : start + piece])
            time.sleep(0.005)
        raw = b""
        while chunk := connection.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body) if body else None


@pytest.mark.parametrize(
    ("path", "method"),
    [("/users/3", "GET"), ("/users/3", "DELETE"), ("/users", "POST"), ("/healthz", "GET")],
)
def test_refuses_header_fields_over_16_kib_on_every_route(
    instance: Instance, path: str, method: str
) -> None:
    status, error = send(instance, path, method, headers={"X-Padding": "a" * 20_000})
    assert (status, error["error"]["code"]) == (431, "E_HEADERS_TOO_LARGE")
    # Many fields add up; the server itself takes up to 64 KiB, so the instance answers.
    many = {f"X-Padding-{n}": "b" * 5_000 for n in range(12)}
    assert code_of(send(instance, path, method, headers=many)) == (431, "E_HEADERS_TOO_LARGE")
    # Read in pieces, a head of 60 kB is still whole when the instance checks it.
    url = urlsplit(instance.url)
    fields = "".join(f"X-Padding-{n}: {'d' * 5_000}\r\n" for n in range(12))
    head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\n{fields}Connection: close\r\n\r\n"
    assert code_of(send_raw(instance, head.encode(), 4096)) == (431, "E_HEADERS_TOO_LARGE")
    assert send(instance, "/users/3", headers={"X-Padding": "c" * 15_000})[0] == 200
    assert send(instance, "/users/3")[0] == 200


def raw_get(instance: Instance, target: str) -> tuple[int, Any]:
    """Status and JSON body of a GET whose request line carries ``target`` as it is."""
    host = urlsplit(instance.url).netloc
    return send_raw(
        instance, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )


def test_serves_an_absolute_form_request_line_as_its_path(instance: Instance) -> None:
    status, user = raw_get(instance, f"{instance.url}/users/3")
    assert (status, user["id"]) == (200, "3")
    assert code_of(raw_get(instance, f"{instance.url}/users/42")) == (404, "E_USER_NOT_FOUND")
    assert code_of(raw_get(instance, f"{instance.url}/users/3?x=1")) == (400, "E_INVALID_QUERY")
    assert code_of(raw_get(instance, f"{instance.url}/nope")) == (404, "E_ROUTE_NOT_FOUND")
