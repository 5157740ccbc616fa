"""The documentation: every relative link of README.md and docs/*.md leads somewhere, every page is in the index,
and the templates page lists every template, context variable and form field the app has.

Links are read as MyST reads them (its own Markdown parser), and heading anchors are the slugs MyST makes
(`myst_heading_anchors` levels of docs/conf.py, GitHub's slug function), so a renamed heading fails here
as it would fail the Sphinx build, and on GitHub for the README.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from myst_parser.slugs import github_slugify

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Not a page of the site: the package's description on PyPI (setup.cfg reads it).
NOT_PAGES = {"pypi.md"}
SOURCES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
INCLUDE = re.compile(r"^```\{include\} (\S+)\n```$", re.M)
TOCTREE = re.compile(r"^```\{toctree\}\n(.*?)^```$", re.M | re.S)


def heading_levels() -> int:
    found = re.search(r"^myst_heading_anchors = (\d+)$", (DOCS / "conf.py").read_text(encoding="utf-8"), re.M)
    assert found is not None, "docs/conf.py no longer sets myst_heading_anchors"
    return int(found.group(1))


def parse(path: Path) -> list[Token]:
    parser = create_md_parser(MdParserConfig(enable_extensions={"colon_fence", "deflist"}), RendererHTML)
    parser.use(anchors_plugin, max_level=heading_levels(), slug_func=github_slugify)
    return parser.parse(path.read_text(encoding="utf-8"))


@cache
def anchors(path: Path) -> frozenset[str]:
    """The heading anchors of the page at `path`, those of the files it includes among them."""
    found = {token.attrGet("id") for token in parse(path) if token.type == "heading_open"}
    for included in INCLUDE.findall(path.read_text(encoding="utf-8")):
        found |= anchors((path.parent / included).resolve())
    return frozenset(str(anchor) for anchor in found if anchor)


def targets(path: Path) -> Iterator[str]:
    """Every link and image target of the page at `path`, outside code."""
    for token in parse(path):
        for child in token.children or []:
            if child.type == "link_open":
                yield str(child.attrGet("href"))
            elif child.type == "image":
                yield str(child.attrGet("src"))


def relative_links() -> list[tuple[str, str]]:
    links = []
    for source in SOURCES:
        for target in targets(source):
            parts = urlsplit(target)
            if not parts.scheme and not parts.netloc:
                links.append((str(source.relative_to(ROOT)), target))
    return links


LINKS = relative_links()


def test_the_pages_have_relative_links_to_check() -> None:
    # A parser that found nothing would make every test below pass.
    assert len(LINKS) > 100
    assert ("README.md", "docs/quickstart.md") in LINKS
    assert ("docs/concepts.md", "rules.md#path-spellings") in LINKS


@pytest.mark.parametrize(("source", "target"), LINKS, ids=[f"{source}->{target}" for source, target in LINKS])
def test_a_relative_link_leads_to_a_file_and_a_heading(source: str, target: str) -> None:
    parts = urlsplit(target)
    page = (ROOT / source).parent / unquote(parts.path) if parts.path else ROOT / source
    assert page.exists(), f"{source} links to {target}, which does not exist"
    if parts.fragment:
        assert page.suffix == ".md", f"{source} links to an anchor of {target}, which is not a page"
        assert parts.fragment in anchors(page.resolve()), (
            f"{source} links to {target}: {page.name} has no heading with that anchor "
            f"(its anchors: {', '.join(sorted(anchors(page.resolve())))})"
        )


def test_anchors_are_the_slugs_myst_makes() -> None:
    concepts = anchors(DOCS / "concepts.md")
    assert "the-safe-next" in concepts  # "The safe `next`": code kept as text, punctuation dropped
    assert "what-next-points-to" in concepts  # a level-3 heading
    assert "the-vonage-backends-checks" in anchors(DOCS / "checks.md")  # the apostrophe dropped
    assert "unreleased" in anchors(DOCS / "changelog.md")  # a heading of the CHANGELOG.md it includes


def toctree_entries() -> list[str]:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    blocks = TOCTREE.findall(text)
    assert blocks, "docs/index.md has no toctree"
    return [
        line.strip() for block in blocks for line in block.splitlines() if line.strip() and not line.startswith(":")
    ]


def test_every_page_is_in_the_index_toctree_once() -> None:
    entries = toctree_entries()
    pages = {path.stem for path in DOCS.glob("*.md") if path.name not in NOT_PAGES} - {"index"}
    assert len(entries) == len(set(entries)), entries
    assert set(entries) == pages


def test_the_pages_not_in_the_site_are_excluded_from_the_build() -> None:
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    excluded = re.search(r"^exclude_patterns = \[(.*)\]$", conf, re.M)
    assert excluded is not None
    assert {f'"{name}"' for name in NOT_PAGES | {"_build", "_generated"}} <= {
        part.strip() for part in excluded.group(1).split(",")
    }


def templates_page() -> str:
    return (DOCS / "templates.md").read_text(encoding="utf-8")


def test_every_template_of_the_app_has_its_section() -> None:
    shipped = sorted(path.name for path in (ROOT / "verification" / "templates" / "verification").glob("*.html"))
    documented = sorted(re.findall(r"^### `verification/([\w.]+)`$", templates_page(), re.M))
    assert documented == shipped


def test_every_context_variable_of_the_pages_is_documented() -> None:
    source = (ROOT / "verification" / "_pages.py").read_text(encoding="utf-8")
    names = set(re.findall(r'^\s+"(\w+)": ', source, re.M)) | set(re.findall(r'context\["(\w+)"\] = ', source))
    assert {"form", "next", "saved_number", "challenge", "brand", "notices", "verification_base_template"} <= names
    documented = set(re.findall(r"^\| `(\w+)` \|", templates_page(), re.M))
    assert names <= documented, sorted(names - documented)


def test_every_form_field_is_documented() -> None:
    from verification.forms import CodeForm, PhoneForm

    documented = set(re.findall(r"^\| `(\w+)` \|", templates_page(), re.M))
    fields = set(PhoneForm(channels=("sms", "voice")).fields) | set(CodeForm().fields)
    assert fields == {"number", "channel", "next", "code"}
    assert fields <= documented
