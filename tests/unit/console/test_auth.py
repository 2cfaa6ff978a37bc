"""Basic authentication in front of an app: challenged without credentials, let through
with an htpasswd user's."""

from __future__ import annotations

import base64

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from odradek.console.auth import BasicAuthMiddleware, credentials
from odradek.console.htpasswd import md5_crypt, parse_htpasswd


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def client() -> TestClient:
    users = parse_htpasswd(f"alice:{md5_crypt('s3cret:x', 'saltsalt')}\n")
    app = Starlette(
        routes=[Route("/", hello)], middleware=[Middleware(BasicAuthMiddleware, users=users)]
    )
    return TestClient(app)


def basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


def test_challenge_without_or_with_wrong_credentials() -> None:
    with client() as http:
        response = http.get("/")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == (
            'Basic realm="odradek console", charset="UTF-8"'
        )
        assert http.get("/", headers=basic("alice:wrong")).status_code == 401
        assert http.get("/", headers=basic("bob:s3cret:x")).status_code == 401
        assert http.get("/", headers={"Authorization": "Bearer x"}).status_code == 401


def test_valid_credentials_pass() -> None:
    with client() as http:
        response = http.get("/", headers=basic("alice:s3cret:x"))  # a colon in the password
        assert (response.status_code, response.text) == (200, "hello")


def test_credentials_parsing() -> None:
    assert credentials("Basic " + base64.b64encode(b"u:p").decode()) == ("u", "p")
    assert credentials("basic " + base64.b64encode(b"u:").decode()) == ("u", "")
    assert credentials("Basic !!!") is None
    assert credentials("Basic " + base64.b64encode(b"no-colon").decode()) is None
    assert credentials("Digest x") is None
