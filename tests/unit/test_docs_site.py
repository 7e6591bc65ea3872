"""The documentation holds together: docs/ builds as a site with `mkdocs build --strict` (a
broken link or anchor, or a page missing from the nav, fails it), and no Markdown file in the
repository links outside the repository — a clone has nothing beside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# Folders that are not the project's own text: tools' caches, generated code, local state.
SKIPPED = {".git", ".venv", "gen", "site", "data", "bench-results", "test-artifacts", "node_modules"}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
SNIPPET = re.compile(r"^--8<--\s+\"([^\"]+)\"", re.MULTILINE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.IGNORECASE)  # https:, mailto:, an anchor


def markdown_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.endswith((".egg-info", "_cache")))
        for name in sorted(files):
            if name.endswith(".md"):
                yield Path(folder) / name


def local_targets(text: str) -> Iterator[str]:
    """Every link, image or snippet target of a Markdown text that is not a URL or an anchor
    (code blocks and code spans hold examples, not links)."""
    yield from SNIPPET.findall(text)
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    for target in INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose):
        if not EXTERNAL.match(target):
            yield target


def outside_links(path: Path) -> list[str]:
    text = path.read_text()
    problems = [f"mentions ../shared: {line.strip()}" for line in text.splitlines() if "../shared" in line]
    for target in local_targets(text):
        file_part = target.split("#", 1)[0].split(":", 1)[0]  # a snippet may name lines: FILE:START
        if not file_part:
            continue
        if file_part.startswith(("/", "~")):
            problems.append(f"links an absolute path: {target}")
            continue
        base = ROOT if target in SNIPPET.findall(text) else path.parent
        resolved = (base / file_part).resolve()
        if not resolved.is_relative_to(ROOT):
            problems.append(f"links outside the repository: {target}")
        elif not resolved.exists():
            problems.append(f"links a missing file: {target}")
    return problems


def test_no_markdown_file_links_outside_the_repository() -> None:
    found = {
        str(path.relative_to(ROOT)): problems
        for path in markdown_files()
        if (problems := outside_links(path))
    }
    assert found == {}


def test_the_link_check_catches_what_it_is_for() -> None:
    page = ROOT / "docs" / "index.md"
    assert outside_links(page) == []
    broken = [
        "[design](../shared/DESIGN.md)",
        "[root](/work/shared/DESIGN.md)",
        "![graph](../../elsewhere/graph.svg)",
        "[gone](no-such-page.md#anchor)",
        "[ref]: ../../../outside.md",
    ]
    fine = ["[site](https://example.com/x.md)", "[here](#where)", "`[code](../shared/x.md)`"]
    assert len(list(local_targets("\n".join(broken)))) == len(broken)
    assert list(local_targets("\n\n".join(fine))) == []


def test_the_docs_build_as_a_site_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: broken links, missing anchors, pages left out of the nav and
    a missing included file are warnings, and strict makes any warning fail the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").exists()
