"""Sphinx configuration of the documentation site: Markdown pages read by MyST, the furo theme.

Build it with `python -m sphinx -W --keep-going -b html docs docs/_build/html`. The settings reference is
generated from `verification/conf.py` when the build starts (`_settings_page.py`), so Django is set up
first, on the app's own test settings (no demo, no database needed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verification.tests.settings")

import django  # noqa: E402

django.setup()

from _settings_page import write_settings_page  # noqa: E402

import verification  # noqa: E402

project = "django-phone-verification"
author = "the django-phone-verification authors"
copyright = f"2026, {author}"
release = verification.__version__
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# pypi.md is the package's long description (setup.cfg), not a page; _generated/ holds included fragments.
exclude_patterns = ["_build", "_generated", "pypi.md", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
# `[text](page.md#a-heading)` links work for headings down to level 3 (the anchors GitHub makes too).
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"django-phone-verification {release}"
html_static_path: list[str] = []


def _write_generated(app: Any) -> None:
    write_settings_page(DOCS)


def setup(app: Any) -> dict[str, Any]:
    """Generate the settings table before Sphinx reads the pages."""
    app.connect("builder-inited", _write_generated)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
