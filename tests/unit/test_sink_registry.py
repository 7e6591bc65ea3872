"""Every sink type is declared once (`runtime.sinks.registry`) and every part of the product
reads it: its driver resolves and delivers that type, its docs page is in the site, the
usage categories, `evs` and `GET /v1/SinkTypes` list it, and its configuration form
offers what its parser takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evs.main import cli
from gateway.usage import CATEGORIES
from runtime import sink_configs
from runtime.sinks import registry
from runtime.sinks.base import SinkType
from services.delivery.settings import Settings
from services.delivery.sinks.registry import drivers, factory

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def test_names_are_unique_and_the_first_three_are_twilios() -> None:
    assert len(set(registry.NAMES)) == len(registry.TYPES)
    assert registry.NAMES[:3] == ("webhook", "kinesis", "segment")


@pytest.mark.parametrize("kind", registry.TYPES, ids=lambda k: k.name)
async def test_each_type_has_a_driver_for_it(kind: SinkType) -> None:
    driver = factory(kind)(Settings())
    try:
        assert driver.sink_type == kind.name
    finally:
        await driver.close()


async def test_the_worker_gets_a_driver_for_every_registered_type() -> None:
    made = drivers(Settings())
    try:
        assert tuple(made) == registry.NAMES
    finally:
        for driver in made.values():
            await driver.close()


@pytest.mark.parametrize("kind", registry.TYPES, ids=lambda k: k.name)
def test_each_type_has_a_docs_page_in_the_site(kind: SinkType) -> None:
    assert (ROOT / "docs" / kind.docs).is_file()
    site = yaml.safe_load("nav:" + (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[1])
    assert kind.docs in nav_pages(site["nav"])


def test_usage_categories_and_evs_read_the_registry() -> None:
    assert CATEGORIES == ("event-streams", *(f"event-streams-{name}" for name in registry.NAMES))
    answer = CliRunner().invoke(cli, ["sinks", "create", "--help"])
    assert all(name in answer.output for name in registry.NAMES)


@pytest.mark.parametrize("kind", registry.TYPES, ids=lambda k: k.name)
def test_each_description_is_json_and_its_form_is_what_the_parser_takes(kind: SinkType) -> None:
    described = json.loads(json.dumps(kind.describe()))
    schema = described["configuration_schema"]
    assert set(schema["required"]) <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    # A field the form does not offer is refused by the parser as unknown, naming it.
    with pytest.raises(Exception, match="unknown configuration field"):
        sink_configs.from_dict(kind.name, {name: "x" for name in schema["properties"]} | {"nope": 1})


def test_initial_status_and_unknown_types_come_from_the_registry() -> None:
    assert sink_configs.INITIAL_STATUS == {k.name: k.initial_status for k in registry.TYPES}
    with pytest.raises(Exception, match="sink type must be one of " + ", ".join(registry.NAMES)):
        sink_configs.parse("sms", "{}")
