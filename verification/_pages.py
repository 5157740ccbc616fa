"""The flow's two pages, what each one shows from the user's state, and the form fields they share.

Internal to `verification.views`: `render_phone` and `render_confirm` build each page's context (the number
on file, what this session may do with it, the pending code, the notices waiting), in the configured layout.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from verification import channels, flow, notices, sessions, state
from verification.conf import conf
from verification.errors import describe, wait_text
from verification.exceptions import LoginAgainRequired, NumberChangeNotAllowed
from verification.forms import CodeForm, PhoneForm, channel_field
from verification.models import Challenge, VerifiedNumber
from verification.redirects import default_redirect_url

__all__ = [
    "OTHER_NUMBER_FIELD",
    "USE_SAVED_FIELD",
    "enrolment_refusal",
    "render_confirm",
    "render_phone",
    "session_facts",
    "then_change",
]

#: Posted by the one-click button that sends a code to the number already on file.
USE_SAVED_FIELD = "use_saved_number"
#: ?other=1 asks for the number form even when a verified number is on file (shown only when a change is
#: allowed). Posted with USE_SAVED_FIELD, it means "verify the number on file, then come back to change it".
OTHER_NUMBER_FIELD = "other"


def then_change(request: HttpRequest) -> bool:
    """Tell whether the user verifies the number on file in order to change it (OTHER_NUMBER_FIELD carried)."""
    source = request.POST if request.method == "POST" else request.GET
    return bool(source.get(OTHER_NUMBER_FIELD))


def session_facts(request: HttpRequest) -> dict[str, Any]:
    """What the flow's enrolment rule needs to know of this session (`flow.enrolment_refusal`)."""
    return {"logged_in_at": sessions.logged_in_at(request), "registered": sessions.is_registered(request)}


def enrolment_refusal(request: HttpRequest, saved: VerifiedNumber | None) -> LoginAgainRequired | None:
    """Return why this session may not enrol a first number, when there is none on file (`saved`); else None."""
    if saved is not None:
        return None
    return flow.enrolment_refusal(request.user, **session_facts(request))  # type: ignore[arg-type]


def render_phone(
    request: HttpRequest, form: PhoneForm, next_url: str, *, status: int = 200, change_requested: bool = False
) -> HttpResponse:
    user = request.user
    saved = flow.verified_number(user)  # type: ignore[arg-type]
    verification = state.get_state(request)
    refusal = flow.number_change_refusal(saved, verification)
    enrolment_refused = enrolment_refusal(request, saved)
    change_requested = change_requested or form.is_bound or bool(request.GET.get(OTHER_NUMBER_FIELD))
    # The number form only for a first enrolment this session may make, or a change it has earned.
    show_form = (saved is None and enrolment_refused is None) or (refusal is None and change_requested)
    pending = flow.pending_challenge(user)  # type: ignore[arg-type]
    if enrolment_refused is not None or (
        pending is not None and flow.number_refusal(saved, pending.number, verification) is not None
    ):
        # Its code cannot be confirmed in this session: do not lead the user to it.
        pending = None
    channels = flow.available_channels()
    context = {
        "form": form,
        "next": next_url,
        "saved_number": None if show_form else saved,
        # No number on file, and this session may not enrol one: the page says so instead of its form.
        "enrolment_refused": describe(enrolment_refused) if enrolment_refused is not None else "",
        "changing": saved is not None and change_requested,
        "may_change": refusal is None,
        # Asked for another number without the right: the page offers to verify the number on file first.
        "change_blocked": refusal is not None and change_requested,
        # Verified, but too long ago to change the number: offer the same, next to the usual one-click send.
        "offer_verify_first": refusal is not None and refusal.reason == NumberChangeNotAllowed.STALE,
        "channel_choices": channel_field(channels).choices if len(channels) > 1 else [],
        "pending": pending,
        "home_url": default_redirect_url(),
        "use_saved_field": USE_SAVED_FIELD,
        "other_number_field": OTHER_NUMBER_FIELD,
    }
    return _render(request, "verification/phone.html", context, status)


def render_confirm(
    request: HttpRequest, form: CodeForm, challenge: Challenge, next_url: str, *, status: int = 200
) -> HttpResponse:
    resend_wait = flow.resend_available_in(challenge)
    expires_in = max(1, math.ceil((challenge.expires_at - timezone.now()).total_seconds()))
    saved = flow.verified_number(request.user)  # type: ignore[arg-type]
    context = {
        "form": form,
        "next": next_url,
        "challenge": challenge,
        "channel_noun": channels.noun(challenge.channel),
        "expires_in": wait_text(expires_in),
        "resend_wait": wait_text(resend_wait) if resend_wait else "",
        "attempts_left": max(0, conf.MAX_ATTEMPTS - challenge.attempts) if challenge.attempts else None,
        "other_number_field": OTHER_NUMBER_FIELD,
        # "Use another number" only where another number could be used now.
        "may_use_other": flow.number_change_refusal(saved, state.get_state(request)) is None,
        "then_change": then_change(request),
        # Said to everyone sending to a number not yet theirs, so it reveals nothing about this one.
        "one_account_per_number": not conf.NUMBER_SHARING and not challenge.known_number,
    }
    return _render(request, "verification/confirm.html", context, status)


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int) -> HttpResponse:
    """Render a flow page in the configured layout, with the notices waiting for this session."""
    context["verification_base_template"] = conf.BASE_TEMPLATE
    context["brand"] = conf.BRAND
    context["notices"] = notices.pop(request)
    return render(request, template, context, status=status)
