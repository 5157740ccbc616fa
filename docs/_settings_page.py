"""Write the settings reference table, `_generated/settings.md`, from `verification.conf.settings_table()`.

`conf.py` calls `write_settings_page` when a build starts; `settings.md` includes the file it writes, so
the published table is always the one the code declares (`verification/tests/test_docs.py` checks both).
"""

from __future__ import annotations

from pathlib import Path

from verification.conf import settings_table

__all__ = ["GENERATED", "write_settings_page"]

#: Where the table goes, relative to docs/; `settings.md` includes it by this path.
GENERATED = Path("_generated") / "settings.md"


def write_settings_page(docs_dir: Path) -> Path:
    """Write `settings_table()` to `docs_dir / GENERATED` (only when it changed) and return the file's path."""
    target = docs_dir / GENERATED
    table = settings_table()
    # Left alone when unchanged, so that Sphinx does not rebuild the page that includes it on every run.
    if not target.exists() or target.read_text(encoding="utf-8") != table:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(table, encoding="utf-8")
    return target
