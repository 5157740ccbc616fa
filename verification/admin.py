"""Admin for verified numbers and challenges: read-only, numbers masked, searchable by user, with a reset action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from verification import notices, state
from verification.conf import conf
from verification.flow import reset_number
from verification.models import BreakerTrip, Challenge, VerifiedNumber
from verification.paths import with_next

__all__ = ["ChallengeAdmin", "VerifiedNumberAdmin"]


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
    """Each user's verified number, masked; only the reset action removes one (no delete view or action)."""

    list_display = ["user", "masked_number", "verified_at"]
    list_select_related = ["user"]
    search_fields = _user_search_fields()
    date_hierarchy = "verified_at"
    readonly_fields = ("user", "masked_number", "verified_at")
    fields = readonly_fields
    actions = ["reset_numbers"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A number goes only through the reset action (`reset_number`: own account refused, a fresh
        # verification needed, the user's sessions ended, recorded): deleting its row would skip all that.
        # Without this permission Django offers neither the delete page nor "Delete selected".
        return False

    def has_reset_permission(self, request: HttpRequest) -> bool:
        """Whether `request.user` may run the reset action: the model's delete permission."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")

    @admin.display(description=_("number"))
    def masked_number(self, obj: VerifiedNumber) -> str:
        return obj.masked

    @admin.action(description=_("Reset the phone number of the selected users"), permissions=["reset"])
    def reset_numbers(self, request: HttpRequest, queryset: QuerySet[VerifiedNumber]) -> HttpResponse | None:
        """Reset the selected users' numbers (`verification.flow.reset_number`): each must enrol a number again.

        Only from a session that verified its own phone within VERIFICATION_NUMBER_CHANGE_MAX_AGE (else it is
        sent to verify, then back here), and never the acting user's own number: a stolen staff password
        alone must not be enough to remove a second factor, least of all its own.
        """
        if not state.verified_within(request, conf.NUMBER_CHANGE_MAX_AGE):
            notices.add(request, notices.INFO, _("Verify your phone number, then reset the numbers again."))
            changelist = reverse(f"{self.admin_site.name}:verification_verifiednumber_changelist")
            return HttpResponseRedirect(with_next(reverse("verification:phone"), changelist))
        count = 0
        for verified in queryset.select_related("user"):
            if verified.user_id == request.user.pk:
                self.message_user(
                    request,
                    _("Your own phone number was not reset: ask another member of staff to reset it."),
                    messages.ERROR,
                )
                continue
            reset_number(verified.user, actor=request.user, actor_label=f"staff:{request.user.pk}")  # type: ignore[arg-type]
            count += 1
        if count:
            self.message_user(
                request,
                ngettext(
                    "The phone number of %(count)d user was reset; their sessions were ended.",
                    "The phone numbers of %(count)d users were reset; their sessions were ended.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
        return None


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
    list_filter = ["status", "region", "channel", "withheld", "known_number", "backend"]
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
        "known_number",
        "withheld",
    )
    fields = readonly_fields

    @admin.display(description=_("number"))
    def masked_number(self, obj: Challenge) -> str:
        return obj.masked


@admin.register(BreakerTrip)
class BreakerTripAdmin(ReadOnlyAdmin):
    """Each circuit breaker's last trip: which, since when, until when it refuses codes."""

    list_display = ["key", "tripped_at", "reopens_at"]
    ordering = ["-reopens_at"]
    readonly_fields = ("key", "tripped_at", "reopens_at")
    fields = readonly_fields
