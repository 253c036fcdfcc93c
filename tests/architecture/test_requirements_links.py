"""The requirements pages (docs/requirements/, docs/requirements/design.md#self-explaining) hold together: every
relative link on them resolves to a file (and to a heading or anchor when it names one), every family of the
registry has a page, and every citation ``docs/requirements/<page>.md#<anchor>`` anywhere in the repository
names a page and an anchor that exist."""

from __future__ import annotations

import re
from functools import cache
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "docs" / "requirements"
SKIP_DIRS = {".git", ".venv", "data", "target", "logs", "dbt_packages", "__pycache__", ".pytest_cache",
             ".hypothesis", "node_modules"}
TEXT_SUFFIXES = {".md", ".py", ".sql", ".yml", ".yaml", ".json", ".csv", ".txt", ".toml", ".cfg", ".ini",
                 ".jsonl", ".html", ".sh", ""}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CITATION = re.compile(r"requirements/([A-Za-z0-9_-]+)\.md(?:#([A-Za-z0-9_-]+))?")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def heading_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Explicit ``<a id>`` anchors and heading slugs of one Markdown file (fenced code skipped)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        found.update(EXPLICIT_ANCHOR.findall(line))
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = heading_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def repository_files() -> list[Path]:
    """Text files of the repository outside build, data and environment folders."""
    files = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIP_DIRS]  # never descend into .venv & co
        files += [Path(folder) / name for name in names if Path(name).suffix in TEXT_SUFFIXES]
    return files


def test_the_requirements_folder_has_an_index_and_a_page_per_family():
    families = sorted(path.parent.name for path in (ROOT / "schemas").glob("*/_family.json"))
    assert families, "no families found under schemas/"
    missing = [family for family in ["README", "design", *families] if not (REQUIREMENTS / f"{family}.md").is_file()]
    assert not missing, f"docs/requirements/ lacks pages: {missing}"


def test_heading_slugs_follow_github():
    assert heading_slug("Retention (seed 003 PII & retention policy)") == "retention-seed-003-pii--retention-policy"
    assert heading_slug("Sessionization (`int_gameplay__sessions`)") == "sessionization-int_gameplay__sessions"


@pytest.mark.parametrize("page", sorted(REQUIREMENTS.glob("*.md")), ids=lambda path: path.name)
def test_every_relative_link_resolves(page: Path):
    broken = []
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # an absolute URL
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target} (no anchor #{fragment})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


def test_every_requirements_citation_names_an_existing_anchor():
    broken = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for match in CITATION.finditer(line):
                page, anchor = REQUIREMENTS / f"{match.group(1)}.md", match.group(2)
                if not page.is_file():
                    broken.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)} (no such page)")
                elif anchor and anchor not in anchors(page):
                    broken.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)} (no such anchor)")
    assert not broken, "citations of missing requirements:\n" + "\n".join(broken)
