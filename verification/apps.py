"""The verification app's configuration: registers system checks and signal receivers."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

__all__ = ["VerificationConfig"]


class VerificationConfig(AppConfig):
    """Phone verification enforced by settings rules."""

    name = "verification"
    verbose_name = _("Phone verification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from verification import checks, sessions  # noqa: F401  (checks registers the system checks)

        sessions.connect_receivers()
