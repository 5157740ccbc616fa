"""The Vonage backends keep their pre-package dotted paths, in settings and in stored `Challenge.backend` rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from verification import flow
from verification.backends.base import get_backend
from verification.backends.vonage.legacy import VonageLegacyVerifyBackend
from verification.backends.vonage.v2 import VonageVerifyBackend
from verification.exceptions import InvalidCode
from verification.models import Challenge
from verification.tests import test_flow_vonage
from verification.tests.fake_vonage import LEGACY_BACKEND, V2_BACKEND, FakeVonage
from verification.tests.test_flow_vonage import DIGITS, NUMBER

# The fixtures of the Vonage flow tests: `api` ("v2", then "legacy"), `vonage` (Vonage faked behind the
# backend of `api`, selected by its dotted path) and `user` (logged in).
api = test_flow_vonage.api
vonage = test_flow_vonage.vonage
user = test_flow_vonage.user

OLD_PATHS = {"v2": V2_BACKEND, "legacy": LEGACY_BACKEND}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("verification.backends.vonage.VonageVerifyBackend", VonageVerifyBackend),
        ("verification.backends.vonage.VonageLegacyVerifyBackend", VonageLegacyVerifyBackend),
    ],
)
def test_the_old_dotted_paths_import_the_backends_of_the_package(path, expected):
    assert import_string(path) is expected
    assert isinstance(get_backend(path), expected)


def test_the_package_re_exports_what_was_public_in_the_module():
    import verification.backends.vonage as package

    for name in (
        "VonageVerifyBackend",
        "VonageLegacyVerifyBackend",
        "vonage_locale",
        "V2_LOCALES",
        "LEGACY_LOCALES",
        "LEGACY_WORKFLOWS",
    ):
        assert name in package.__all__
        assert hasattr(package, name)


def stored_challenge(user: Any, vonage: FakeVonage, api: str) -> Challenge:
    """Return a pending challenge as a row saved before the package split would be: the old dotted path."""
    request_id = vonage.in_progress(DIGITS)
    return Challenge.objects.create(
        user=user,
        number=NUMBER,
        backend=OLD_PATHS[api],
        request_id=request_id,
        channel="sms",
        status=Challenge.Status.PENDING,
        expires_at=timezone.now() + timedelta(minutes=5),
    )


def test_a_stored_challenge_naming_the_old_path_still_checks(vonage, user, api):
    challenge = stored_challenge(user, vonage, api)

    verified = flow.check_code(user, vonage.code)

    assert verified.pk == challenge.pk
    assert verified.status == Challenge.Status.VERIFIED
    assert vonage.checks == [(challenge.request_id, vonage.code)]
    assert vonage.requests[challenge.request_id]["state"] == "verified"


def test_a_stored_challenge_naming_the_old_path_still_rejects_a_wrong_code(vonage, user, api):
    challenge = stored_challenge(user, vonage, api)

    with pytest.raises(InvalidCode):  # WrongCode, which says how many attempts are left
        flow.check_code(user, "000000")

    assert vonage.checks == [(challenge.request_id, "000000")]


def test_a_stored_challenge_naming_the_old_path_still_cancels(vonage, user, api):
    challenge = stored_challenge(user, vonage, api)
    # Legacy Vonage refuses to cancel within 30 seconds of the start: this one is older.
    vonage.requests[challenge.request_id]["at"] -= 60

    assert flow.cancel_verification(user) == 1

    assert vonage.cancels == [challenge.request_id]
    assert vonage.requests[challenge.request_id]["state"] == "cancelled"
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.CANCELLED
