"""Names that moved in the reshaping keep importing from their old modules, with a DeprecationWarning.

(`verification.phone.NumberRefused` and `verification.rules.InvalidRule` import without one: both modules
use the exception, so it is still one of their names.)
"""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    ("verification.middleware", "VerificationEnforcer", "verification.enforcement"),
    ("verification.middleware", "VERIFICATION_URL_NAME", "verification.enforcement"),
    ("verification.middleware", "VARY_HEADERS", "verification.enforcement"),
    ("verification.middleware", "HTMX_REDIRECT_HEADER", "verification.enforcement"),
    ("verification.flow", "WrongCode", "verification.exceptions"),
    ("verification.flow", "mark_session_verified", "verification.state"),
    ("verification.models", "UNKNOWN_REGION", "verification.phone"),
    ("verification.throttling", "client_ip", "verification.network"),
    ("verification.redirects", "REDIRECT_FIELD_NAME", "verification.paths"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_a_moved_name_imports_from_its_old_module_with_a_warning(old: str, name: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{name}"):
        found = getattr(importlib.import_module(old), name)
    assert found is getattr(importlib.import_module(new), name)


@pytest.mark.parametrize("old", sorted({old for old, _, _ in MOVED}))
def test_other_missing_names_are_still_an_attribute_error(old: str) -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        getattr(importlib.import_module(old), "no_such_name")  # noqa: B009
