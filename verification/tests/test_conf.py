"""The settings: one declaration each, the table of the README derived from them, every check id used once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks

from verification.conf import DEFAULTS, TYPE_CHECK_ID, Setting, VerificationSettings, conf, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"
TABLE = re.compile(r"<!-- settings-table:[^\n]*-->\n(.*?)<!-- end settings-table -->\n", re.S)
SETTINGS = list(VerificationSettings.settings())


def test_the_readme_settings_table_is_the_one_conf_generates() -> None:
    found = TABLE.search(README.read_text(encoding="utf-8"))
    assert found is not None, "README.md has lost its settings-table markers"
    assert found.group(1) == settings_table(), (
        "README.md's settings table differs from verification/conf.py; paste verification.conf.settings_table():\n"
        + settings_table()
    )


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


def _readme_check_ids() -> set[str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("### System checks") : text.index("## Send budgets against SMS toll fraud")]
    ids: set[str] = set()
    for first, last in re.findall(r"^\| ([EW]\d{3})(?:–([EW]\d{3}))? \|", table, re.M):
        start, end = int(first[1:]), int((last or first)[1:])
        ids.update(f"{first[0]}{number:03d}" for number in range(start, end + 1))
    return ids


def _code_check_ids() -> set[str]:
    package = Path(__file__).resolve().parents[1]
    ids = {setting.check_id for setting in SETTINGS if not setting.checked_by}
    for source in package.rglob("*.py"):
        if "tests" in source.parts or "migrations" in source.parts:
            continue
        ids.update(re.findall(r'id="verification\.([EW]\d{3})"', source.read_text(encoding="utf-8")))
        ids.update(re.findall(r'"verification\.([EW]\d{3})"', source.read_text(encoding="utf-8")))
    return ids


def test_the_readme_lists_every_check_the_code_has_and_no_other() -> None:
    # Vonage's range is reserved as a whole in the README's wording, its ids are listed by the backend.
    vonage = {f"{kind}{number:03d}" for kind in "EW" for number in range(20, 30)}
    assert _readme_check_ids() == _code_check_ids() - vonage
