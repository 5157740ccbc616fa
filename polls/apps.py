"""The Pollstr demo app."""

from __future__ import annotations

from django.apps import AppConfig


class PollsConfig(AppConfig):
    """Polls, sign-up and the `demo` command."""

    name = "polls"
    default_auto_field = "django.db.models.BigAutoField"
