"""The settings: one declaration each, the docs' settings table generated from them, every check id documented."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import django
import pytest
from django.core.checks import run_checks

from verification.conf import DEFAULTS, TYPE_CHECK_ID, Setting, VerificationSettings, conf, settings_table

DOCS = Path(__file__).resolve().parents[2] / "docs"
SETTINGS = list(VerificationSettings.settings())


def load_docs_conf(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Execute docs/conf.py as Sphinx does, without setting Django up again (it is, for the tests)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(django, "setup", lambda: None)
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_page_includes_the_generated_table_and_no_other() -> None:
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert re.findall(r"^```\{include\} (\S+)\n```$", page, re.M) == ["_generated/settings.md"]
    # The one table of settings is the generated one: none written by hand beside it.
    assert "| `VERIFICATION_" not in page
    assert "| `VONAGE_" not in page


def test_the_docs_build_writes_exactly_the_table_conf_generates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docs_conf = load_docs_conf(monkeypatch)
    hooks: dict[str, Any] = {}

    class App:
        def connect(self, event: str, callback: Any) -> None:
            hooks[event] = callback

    docs_conf.setup(App())
    monkeypatch.setattr(docs_conf, "DOCS", tmp_path)
    hooks["builder-inited"](App())
    assert (tmp_path / "_generated" / "settings.md").read_text(encoding="utf-8") == settings_table()
    assert Path("_generated") / "settings.md" == sys.modules["_settings_page"].GENERATED


def test_the_generated_table_is_rewritten_only_when_it_changed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_settings_page = load_docs_conf(monkeypatch).write_settings_page
    target = tmp_path / "_generated" / "settings.md"
    target.parent.mkdir()
    target.write_text("| stale |\n", encoding="utf-8")
    assert write_settings_page(tmp_path) == target
    assert target.read_text(encoding="utf-8") == settings_table()
    written = target.stat().st_mtime_ns
    write_settings_page(tmp_path)
    assert target.stat().st_mtime_ns == written


def test_every_setting_is_named_once_with_a_meaning_and_a_check() -> None:
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names)) == len(DEFAULTS)
    assert all(name.startswith(("VERIFICATION_", "VONAGE_")) for name in names)
    for setting in SETTINGS:
        assert setting.meaning.strip(), setting.name
        assert "\n" not in setting.meaning, setting.name
        assert setting.checked_by or setting.check_id, setting.name
        if setting.valid is not None:
            assert setting.expected, f"{setting.name} has a validator but no hint"


def test_no_two_settings_share_a_check_id_of_their_own() -> None:
    own = [setting.check_id for setting in SETTINGS if not setting.checked_by and setting.valid is not None]
    assert len(own) == len(set(own))
    assert TYPE_CHECK_ID not in own


def test_every_default_passes_its_own_check() -> None:
    for setting in SETTINGS:
        assert setting.is_valid(setting.default), setting.name


@pytest.mark.parametrize("setting", [s for s in SETTINGS if not s.checked_by], ids=lambda s: s.name)
def test_a_bad_value_is_reported_with_the_settings_own_id(settings: Any, setting: Setting[Any]) -> None:
    # A value no setting accepts: its own check (or the type check) reports it, under its id.
    setattr(settings, setting.name, object())
    ids = {message.id for message in run_checks(tags=["verification"])}
    assert f"verification.{setting.check_id}" in ids


def test_settings_are_read_at_access_time(settings: Any) -> None:
    assert conf.CODE_LENGTH == 6
    settings.VERIFICATION_CODE_LENGTH = 8
    assert conf.CODE_LENGTH == 8
    assert VerificationSettings.CODE_LENGTH.name == "VERIFICATION_CODE_LENGTH"
    assert VerificationSettings.VONAGE_TIMEOUT.name == "VONAGE_TIMEOUT"


def _documented_check_ids() -> set[str]:
    """The ids docs/checks.md lists: "E001", ranges such as "E015-E019" (an en dash), "`verification.E020`"."""
    ids: set[str] = set()
    pattern = r"^\| `?(?:verification\.)?([EWI]\d{3})`?(?:–([EWI]\d{3}))? \|"
    for first, last in re.findall(pattern, (DOCS / "checks.md").read_text(encoding="utf-8"), re.M):
        start, end = int(first[1:]), int((last or first)[1:])
        ids.update(f"{first[0]}{number:03d}" for number in range(start, end + 1))
    return ids


def _code_check_ids() -> set[str]:
    package = Path(__file__).resolve().parents[1]
    ids = {setting.check_id for setting in SETTINGS if not setting.checked_by}
    for source in package.rglob("*.py"):
        if "tests" in source.parts or "migrations" in source.parts:
            continue
        ids.update(re.findall(r'"verification\.([EWI]\d{3})"', source.read_text(encoding="utf-8")))
    return ids


def test_the_checks_page_lists_every_check_the_code_has_and_no_other() -> None:
    code = _code_check_ids()
    # The Vonage backend's and the information-level ids are among them: every table of the page is read.
    assert {"E020", "W021", "I001", "E060"} <= code
    assert _documented_check_ids() == code
