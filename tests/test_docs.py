"""Every relative link in README.md and docs/ resolves, so the guide cannot point at a moved file.

A link's target is checked with its anchor removed (``docs/search.md#samplers`` must name an
existing file); an anchor into a Markdown file must also name one of its headings, slugged as
GitHub does. Links inside code (fenced blocks, inline backticks) are not links and are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")

DOCS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])


def _prose(text: str) -> str:
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8")))}


def relative_links(path: Path) -> list[str]:
    """The relative link targets of a Markdown file (external URLs left out)."""
    targets = LINK.findall(_prose(path.read_text(encoding="utf-8")))
    return [target for target in targets if not target.startswith(EXTERNAL)]


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """``target: why`` for each relative link of ``path`` that does not resolve inside ``root``."""
    root = root.resolve()
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif root not in resolved.parents and resolved != root:
            broken.append(f"{target}: outside the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


def test_broken_links_are_found(tmp_path: Path) -> None:
    """The checker itself: a missing file, a missing heading and code are told apart."""
    (tmp_path / "other.md").write_text("# A heading: with `code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    (tmp_path.parent / "outside.md").write_text("# Out\n", encoding="utf-8")
    page.write_text(
        "[ok](other.md) [ok](other.md#a-heading-with-code) [ok](#title) [web](https://x.org/y)\n"
        "[gone](missing.md) [bad anchor](other.md#nope) [out](../outside.md)\n"
        "`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n# Title\n",
        encoding="utf-8",
    )
    problems = broken_links(page, root=tmp_path)
    assert [problem.split(":")[0] for problem in problems] == [
        "missing.md",
        "other.md#nope",
        "../outside.md",
    ]


def test_readme_is_a_guide() -> None:
    """Issue 21: the README is a user's guide of about 300 lines; reference goes to docs/."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 320
