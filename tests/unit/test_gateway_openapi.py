"""The OpenAPI document is rendered once, not per request: each anonymous GET used to cost
~170 ms of CPU. What each request changes (the server URL) is put into the rendered text."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway import openapi

pytestmark = pytest.mark.unit


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each full render of the document (YAML or JSON) notes its kind."""
    renders: list[str] = []
    safe_dump, dumps = yaml.safe_dump, json.dumps

    def counting_yaml(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "paths" in data:
            renders.append("yaml")
        return safe_dump(data, *args, **kwargs)

    def counting_json(data: Any, *args: Any, **kwargs: Any) -> str:
        if isinstance(data, dict) and "paths" in data:
            renders.append("json")
        return dumps(data, *args, **kwargs)

    monkeypatch.setattr(yaml, "safe_dump", counting_yaml)
    monkeypatch.setattr(json, "dumps", counting_json)
    clear = getattr(openapi, "forget_rendered", None)
    if clear is not None:
        clear()  # rendered by an earlier test: render again, counted
    return renders


@pytest.mark.parametrize(("path", "load"), [("/openapi.yaml", yaml.safe_load), ("/openapi.json", json.loads)])
def test_rendered_once_across_requests_and_hosts(counted: list[str], path: str, load: object) -> None:
    client = TestClient(Starlette(routes=openapi.routes("")))
    for host in ("a.example", "b.example:8443", "a.example", "c.example"):
        response = client.get(path, headers={"host": host})
        assert response.status_code == 200
        spec = load(response.text)  # type: ignore[operator]
        assert spec["servers"] == [{"url": f"http://{host}"}]
        path_servers = [item["servers"] for item in spec["paths"].values() if "servers" in item]
        assert path_servers and all(s == [{"url": f"http://{host}"}] for s in path_servers)
        assert spec["info"]["title"]
    assert len(counted) == 1


def test_the_public_url_wins_over_the_host(counted: list[str]) -> None:
    client = TestClient(Starlette(routes=openapi.routes("https://events.example.com")))
    spec = yaml.safe_load(client.get("/openapi.yaml", headers={"host": "evil.example"}).text)
    assert spec["servers"] == [{"url": "https://events.example.com"}]
