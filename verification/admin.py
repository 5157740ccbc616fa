"""Admin for verified numbers and challenges: read-only, numbers masked, searchable by user, with a reset action."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from verification.flow import cancel_verification
from verification.models import Challenge, VerifiedNumber

__all__ = ["ChallengeAdmin", "VerifiedNumberAdmin"]

logger = logging.getLogger(__name__)


def _user_search_fields() -> list[str]:
    user_model = get_user_model()
    fields = [f"user__{user_model.USERNAME_FIELD}"]
    email_field = user_model.get_email_field_name()
    if email_field != user_model.USERNAME_FIELD and any(f.name == email_field for f in user_model._meta.fields):
        fields.append(f"user__{email_field}")
    return fields


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the verification flow: staff may look, filter and delete, never edit or add."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VerifiedNumber)
class VerifiedNumberAdmin(ReadOnlyAdmin):
    """Each user's verified number, masked; the reset action makes users verify a number again."""

    list_display = ["user", "masked_number", "verified_at"]
    list_select_related = ["user"]
    search_fields = _user_search_fields()
    date_hierarchy = "verified_at"
    readonly_fields = ("user", "masked_number", "verified_at")
    fields = readonly_fields
    actions = ["reset_numbers"]

    @admin.display(description=_("number"))
    def masked_number(self, obj: VerifiedNumber) -> str:
        return obj.masked

    @admin.action(description=_("Reset the phone number of the selected users"), permissions=["delete"])
    def reset_numbers(self, request: HttpRequest, queryset: QuerySet[VerifiedNumber]) -> None:
        """Forget the numbers and cancel the users' pending codes; each must verify a number again."""
        count = 0
        for verified in queryset.select_related("user"):
            cancel_verification(verified.user)
            verified.delete()
            logger.info("Phone number reset by staff: user=%s by=%s", verified.user_id, request.user.pk)
            count += 1
        self.message_user(
            request,
            ngettext(
                "The phone number of %(count)d user was reset.",
                "The phone numbers of %(count)d users were reset.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Challenge)
class ChallengeAdmin(ReadOnlyAdmin):
    """Every code sent: to whom (masked), by which backend and channel, and what became of it."""

    list_display = [
        "user",
        "masked_number",
        "region",
        "channel",
        "status",
        "attempts",
        "created_at",
        "expires_at",
        "client_ip",
    ]
    # By destination region: where sends go, and where a toll-fraud circuit breaker tripped.
    list_filter = ["status", "region", "channel", "backend"]
    list_select_related = ["user"]
    search_fields = _user_search_fields()
    date_hierarchy = "created_at"
    readonly_fields = (
        "user",
        "masked_number",
        "region",
        "backend",
        "request_id",
        "channel",
        "status",
        "attempts",
        "created_at",
        "expires_at",
        "client_ip",
        "client_network",
    )
    fields = readonly_fields

    @admin.display(description=_("number"))
    def masked_number(self, obj: Challenge) -> str:
        return obj.masked
