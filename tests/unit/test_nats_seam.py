"""The NATS seam (runtime/natsio) is the only place that writes NATS protocol bytes or
reaches into nats-py: everything else uses nats-py's public API and the seam's functions.
Read from the source (ast), so a new module is checked as it lands."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError
from nats.protocol import command

from runtime.natsio import api, publish, pull
from runtime.natsio.headers import status_code
from runtime.natsio.publish import Frames
from runtime.natsio.pull import PullStatus

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("runtime", "services", "gateway", "devkit", "evs", "eventstreams_producer", "launcher")
SEAM = ROOT / "runtime" / "natsio"
# Modules outside the seam allowed past it, and why.
EXEMPT = {
    # Plays the server's side of the wire (HMSG lines, $JS.ACK replies) to the services'
    # client, which it drives by its internals to measure its read path alone.
    "devkit/bench_worker_python.py",
}

# nats-py's public surface: whole modules, or the names a module's import may take.
PUBLIC_MODULES = {"nats", "nats.errors", "nats.js.errors", "nats.js.api"}
PUBLIC_NAMES = {
    "nats.aio.client": {"Client", "RawCredentials"},  # connect(user_credentials=RawCredentials(text))
    "nats.aio.msg": {"Msg"},
    "nats.aio.subscription": {"Subscription"},
    "nats.js": {"JetStreamContext"},
}

# Protocol spelled out: commands, header-block framing, JetStream API and ack subjects,
# the headers JetStream sets on pull requests' messages.
PROTOCOL = (
    "HPUB ",
    "HMSG ",
    "PUB ",
    "NATS/1.0",
    "$JS.API.",
    "$JS.ACK",
    "+ACK",
    "-NAK",
    "+WPI",
    "+TERM",
    "Nats-Pin-Id",
)


def _private_names() -> set[str]:
    """nats-py's private attributes (one underscore) of the objects the services hold."""
    client = Client()
    instances: list[object] = [client, Msg(client), Subscription(client, 1)]
    names = {
        name for thing in [Client, Msg, Subscription, JetStreamContext, *instances] for name in dir(thing)
    }
    names |= {name for thing in instances for name in vars(thing)}
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


PRIVATE = _private_names()


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if SEAM in path.parents:
                continue
            name = path.relative_to(ROOT).as_posix()
            if name in EXEMPT:
                continue
            yield name, ast.parse(path.read_text(), name)


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings or bare comments-in-strings."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _breaches(name: str, tree: ast.Module) -> Iterator[str]:
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nats.") and alias.name not in PUBLIC_MODULES:
                    yield f"{name}:{node.lineno} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = node.module
            if module != "nats" and not module.startswith("nats."):
                continue
            if module in PUBLIC_MODULES:
                continue
            allowed = PUBLIC_NAMES.get(module, set())
            for alias in node.names:
                if alias.name not in allowed:
                    yield f"{name}:{node.lineno} imports {alias.name} from {module}"
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            yield f"{name}:{node.lineno} reaches into .{node.attr}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and id(node) not in docs:
            text = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
            spelled = next((literal for literal in PROTOCOL if literal in text), None)
            if spelled is not None:
                yield f"{name}:{node.lineno} spells {spelled.strip()!r}"


def test_only_the_seam_touches_nats_py_internals_or_protocol_bytes() -> None:
    breaches = [breach for name, tree in _modules() for breach in _breaches(name, tree)]
    assert breaches == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from nats.protocol import command", "imports command from nats.protocol"),
        ("from nats.aio.client import Client, _CRLF_", "imports _CRLF_ from nats.aio.client"),
        ("import nats.protocol.parser", "imports nats.protocol.parser"),
        ("def f(msg):\n    return msg._client", "reaches into ._client"),
        ("async def f(nc):\n    await nc._send_command(b'')", "reaches into ._send_command"),
        ("X = b'HPUB s r 1 2\\r\\n'", "spells 'HPUB'"),
        ("X = f'$JS.API.CONSUMER.MSG.NEXT.{s}.{c}'", "spells '$JS.API.'"),
        ("X = b'NATS/1.0 503'", "spells 'NATS/1.0'"),
        ("X = b'+WPI'", "spells '+WPI'"),
    ],
)
def test_the_check_finds_each_kind_of_breach(source: str, expected: str) -> None:
    found = list(_breaches("m.py", ast.parse(source)))
    assert len(found) == 1 and found[0].endswith(expected), found


@pytest.mark.parametrize(
    "source",
    [
        "import nats\nimport nats.js.errors\nfrom nats.js.api import AckPolicy",
        "from nats.aio.client import Client\nfrom nats.aio.msg import Msg",
        "class A:\n    def f(self):\n        return self._client",
        '"""Mentions HPUB and $JS.ACK in prose."""',
    ],
)
def test_the_public_api_and_prose_pass(source: str) -> None:
    assert list(_breaches("m.py", ast.parse(source))) == []


def test_a_frame_is_the_hpub_command_nats_py_writes() -> None:
    frames = Frames()
    frames.add("events.AC1.DG1", "_INBOX.a.1", b"NATS/1.0\r\nK: v\r\n\r\n", b'{"x":1}')
    frames.add("events.AC1.DG2", "_INBOX.a.2", b"NATS/1.0\r\n\r\n", b"")
    assert frames.wire() == command.hpub_cmd(
        "events.AC1.DG1", "_INBOX.a.1", b"NATS/1.0\r\nK: v\r\n\r\n", b'{"x":1}'
    ) + command.hpub_cmd("events.AC1.DG2", "_INBOX.a.2", b"NATS/1.0\r\n\r\n", b"")
    assert (frames.count, frames.size, frames.payload_bytes) == (2, 18 + 7 + 12, 7)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\n\r\n", PullStatus.HEARTBEAT),
        (b"NATS/1.0 404 No Messages\r\n\r\n", PullStatus.NO_MESSAGES),
        (b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\n\r\n", PullStatus.EXPIRED),
        (b"NATS/1.0 409 Leadership Change\r\n\r\n", PullStatus.RESET),
        (b"NATS/1.0 423 Nats-Pin-Id mismatch\r\n\r\n", PullStatus.PIN_LOST),
        (b"NATS/1.0 400 Bad Request\r\n\r\n", PullStatus.OTHER),
        (b"NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n", None),
        (None, None),
    ],
)
async def test_a_pull_status_is_read_from_the_headers_nats_py_parses(
    block: bytes | None, expected: PullStatus | None
) -> None:
    headers = await Client()._process_headers(block) if block else None
    msg = Msg(Client(), subject="_INBOX.x", headers=headers)
    assert pull.status_of(msg) is expected
    assert status_code(block) == (int(block[9:12]) if block and block[8:9] == b" " else None)


def test_a_pull_request_asks_as_nats_py_asks() -> None:
    assert json.loads(pull.request_body(32, 5.0)) == {"batch": 32, "expires": 5_000_000_000}
    assert json.loads(pull.request_body(1, 0.5, "ordered", "PIN")) == {
        "batch": 1,
        "expires": 500_000_000,
        "group": "ordered",
        "id": "PIN",
    }
    assert pull.next_subject("EVENTS", "delivery") == api.PREFIX + "CONSUMER.MSG.NEXT.EVENTS.delivery"


def test_jetstreams_answer_to_a_publish_is_read_as_nats_py_reads_it() -> None:
    assert publish.answer(b'{"stream":"EVENTS","seq":7}', None) is None
    assert isinstance(publish.answer(b"", b"NATS/1.0 503\r\n\r\n"), NoStreamResponseError)
    assert isinstance(publish.answer(b"not json", None), ValueError)
    full = b'{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}'
    refused = publish.answer(full, None)
    with pytest.raises(APIError) as theirs:
        APIError.from_error(json.loads(full)["error"])
    assert type(refused) is type(theirs.value) and str(refused) == str(theirs.value)
