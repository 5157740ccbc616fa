"""Pollstr's admin and password change need a verified phone: a stolen (staff) password alone opens neither."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client
from django.utils import timezone

from verification.testing import verify_client

pytestmark = pytest.mark.django_db
STAFF_NUMBER = "+447400555666"


@pytest.fixture
def staff_client(client: Client, settings: Any) -> Client:
    """A staff superuser, logged in with the password only."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(get_user_model().objects.create_superuser("root", email="root@example.com"))
    return client


def target_of(response: Any) -> str:
    assert response.status_code == 302, response.status_code
    return str(response["Location"]).split("?")[0]


@pytest.mark.parametrize("path", ["/admin/", "/admin/verification/verifiednumber/", "/password_change/"])
def test_a_password_alone_does_not_open_the_admin_or_the_password_change(staff_client: Client, path: str) -> None:
    assert target_of(staff_client.get(path)) == "/verify/"


def test_the_admins_login_stays_open(client: Client) -> None:
    assert client.get("/admin/login/").status_code == 200


def test_a_verified_staff_session_opens_the_admin_for_fifteen_minutes(staff_client: Client, time_machine: Any) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    verify_client(staff_client, STAFF_NUMBER)

    assert staff_client.get("/admin/").status_code == 200
    assert staff_client.get("/password_change/").status_code == 200
    time_machine.shift(timedelta(seconds=901))
    assert target_of(staff_client.get("/admin/")) == "/verify/"


def test_pollstr_passes_w010(settings: Any) -> None:
    settings.DEBUG = False
    ids = {message.id for message in run_checks(tags=["verification"], include_deployment_checks=True)}
    assert "verification.W010" not in ids
    settings.VERIFICATION_REQUIRED_URLS = ["polls:detail", "polls:results", "polls:vote"]
    ids = {message.id for message in run_checks(tags=["verification"], include_deployment_checks=True)}
    assert "verification.W010" in ids
