"""What `pip install .` ships stands alone: no product module imports the dev kit or the
tests (which the install leaves out), and every library a product module imports is one of
pyproject's runtime dependencies, not one that happens to come along with another."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("runtime", "services", "gateway", "launcher", "evs", "eventstreams_producer")
# Ours: the product's packages and the generated gRPC code (gen/eventstreams).
FIRST_PARTY = {*PRODUCT, "eventstreams"}
LEFT_OUT = {"devkit", "tests"}


def product_modules() -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every module a file imports when it runs (absolute imports; relative ones stay in
    their package; those under `if TYPE_CHECKING:` are for mypy alone)."""
    tree = ast.parse(path.read_text(), str(path))
    for guard in ast.walk(tree):
        if isinstance(guard, ast.If) and "TYPE_CHECKING" in ast.unparse(guard.test):
            guard.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno


def test_no_product_module_imports_the_dev_kit_or_the_tests() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in product_modules()
        for name, line in imported(path)
        if name.split(".")[0] in LEFT_OUT
    ]
    assert found == []


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {normal(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_library_the_product_imports_is_a_runtime_dependency() -> None:
    distributions = metadata.packages_distributions()
    wanted = declared()
    missing = []
    for path in product_modules():
        for name, line in imported(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY or top in LEFT_OUT:
                continue
            providers = {normal(d) for d in distributions.get(top, [])}
            if not providers & wanted:
                missing.append(f"{path.relative_to(ROOT)}:{line} imports {name} ({sorted(providers)})")
    assert missing == []


def test_the_files_the_product_reads_are_shipped() -> None:
    """The files beside the code (the console, the OpenAPI document) are package data: an
    install without the checkout serves them too."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs: dict[str, list[str]] = setuptools.get("package-data", {})
    missing = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*")):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            owner = path.parent
            while not (owner / "__init__.py").exists():
                owner = owner.parent
            name = ".".join(owner.relative_to(ROOT).parts)
            inside = path.relative_to(owner)
            if not any(inside.match(pattern) for pattern in globs.get(name, [])):
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []
