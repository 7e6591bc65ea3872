"""gRPC core's switches: set unless the operator set them, refused once grpc is imported
(they would be ignored without a word), and set by every gRPC service before anything else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from runtime import grpc_core

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GRPC_SERVICES = ("catalog", "control", "router", "delivery")


def test_a_bare_environment_gets_the_servers_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "grpc", raising=False)
    environ: dict[str, str] = {}
    assert grpc_core.configure(environ) == "-event_engine_listener"
    assert environ == {"GRPC_EXPERIMENTS": "-event_engine_listener"}


@pytest.mark.parametrize("own", ["", "event_engine_listener", "-event_engine_client"])
def test_the_operators_own_switches_are_kept(own: str) -> None:
    environ = {"GRPC_EXPERIMENTS": own}
    assert grpc_core.configure(environ) == own
    assert environ == {"GRPC_EXPERIMENTS": own}


def test_switches_set_after_grpc_is_imported_are_refused() -> None:
    import grpc  # noqa: F401  (the point: it is imported)

    with pytest.raises(RuntimeError, match="before grpc is imported"):
        grpc_core.configure({})


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_a_service_sets_the_switches_before_any_other_import(service: str) -> None:
    body = ast.parse((ROOT / "services" / service / "__main__.py").read_text()).body
    first, second = body[0], body[1]
    assert isinstance(first, ast.ImportFrom) and first.module == "runtime"
    assert [alias.name for alias in first.names] == ["grpc_core"]
    assert isinstance(second, ast.Expr) and isinstance(second.value, ast.Call)
    assert ast.unparse(second.value) == "grpc_core.configure()"
