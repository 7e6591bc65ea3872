"""A url-encoded form is read in its declared charset, UTF-8 by default — raw bytes and
%-escapes alike — and a body that is not in it is a 400, not mojibake."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway import forms
from runtime.errors import InvalidArgument

pytestmark = pytest.mark.unit


async def echo(request: Request) -> Response:
    try:
        form = await forms.read(request)
    except InvalidArgument as exc:
        return JSONResponse({"error": exc.message}, status_code=400)
    return JSONResponse({key: form.getlist(key) for key in form})


CLIENT = TestClient(Starlette(routes=[Route("/", echo, methods=["POST"])]))
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("content_type", "body", "read"),
    [
        (FORM, "SinkSid=DG…".encode(), {"SinkSid": ["DG…"]}),  # raw UTF-8, as curl -d sends it
        (FORM, b"SinkSid=DG%E2%80%A6", {"SinkSid": ["DG…"]}),  # escaped, as twilio-python does
        (f"{FORM}; charset=UTF-8", "a=ü+b&a=&c".encode(), {"a": ["ü b", ""], "c": [""]}),
        (f'{FORM}; charset="iso-8859-1"', "a=ü".encode("latin-1"), {"a": ["ü"]}),
        ("", b"", {}),
    ],
)
def test_read(content_type: str, body: bytes, read: dict[str, list[str]]) -> None:
    response = CLIENT.post("/", content=body, headers={"content-type": content_type})
    assert (response.status_code, response.json()) == (200, read)


@pytest.mark.parametrize(
    ("content_type", "body", "said"),
    [
        (FORM, b"a=\xff\xfe", "not utf-8"),
        (FORM, b"a=%FF", "not utf-8"),
        (f"{FORM}; charset=klingon", b"a=b", "charset 'klingon'"),
        (f"{FORM}; charset=rot13", b"a=b", "charset 'rot13'"),
    ],
)
def test_refused(content_type: str, body: bytes, said: str) -> None:
    response = CLIENT.post("/", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert said in response.json()["error"]
