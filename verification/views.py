"""The verification pages: thin adapters from HTTP to `verification.flow`, turning every failure into a message.

No failure of the input, of the stored state or of the backend is ever a 500: each one is a message
next to the field (or at the top of the page) and a sensible next step. What a step says after its
redirect is carried to the next page by `verification.notices`, shown inside the flow's own pages:
the flow needs no `django.contrib.messages`. Only the last word, "verified", goes to the page the
user came for, through `django.contrib.messages` when the site has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from verification import flow, network, notices, sessions, state
from verification._pages import (
    OTHER_NUMBER_FIELD,
    USE_SAVED_FIELD,
    enrolment_refusal,
    render_confirm,
    render_phone,
    session_facts,
    then_change,
)
from verification.errors import RETRY, WAIT, describe, outcome_for
from verification.exceptions import (
    LoginAgainRequired,
    NoPendingVerification,
    NumberChangeNotAllowed,
    SendLimitExceeded,
    VerificationError,
)
from verification.forms import CodeForm, PhoneForm
from verification.paths import REDIRECT_FIELD_NAME, with_next
from verification.redirects import is_safe_next, safe_next_url
from verification.throttling import SCOPE_COOLDOWN

__all__ = ["cancel", "confirm", "phone", "resend", "send"]


def verification_view(*methods: Callable[..., Any]) -> Callable[[Callable[..., HttpResponse]], Any]:
    """Apply the decorators every verification page shares, then `methods` (require_POST...)."""

    def decorate(view: Callable[..., HttpResponse]) -> Any:
        for decorator in methods:
            view = decorator(view)
        view = login_required(view)
        view = csrf_protect(view)
        view = never_cache(view)
        view = sensitive_post_parameters("code", "number")(view)
        # Never inside ATOMIC_REQUESTS' transaction: the send budgets' locks would be held across the provider
        # call, and the circuit breakers count only what other sends have committed.
        for alias in settings.DATABASES:
            view = transaction.non_atomic_requests(using=alias)(view)
        return view

    return decorate


@verification_view(require_safe)
def phone(request: HttpRequest) -> HttpResponse:
    """Show the number on file (one click sends a code to it) or the form for a number."""
    next_url = _next(request)
    form = PhoneForm(initial={"next": next_url}, channels=flow.available_channels())
    return render_phone(request, form, next_url)


@verification_view(require_POST)
def send(request: HttpRequest) -> HttpResponse:
    """Send a code to the posted number (or to the number on file) and go to the code form.

    Another number than the one on file is refused (403) unless this session verified that one recently;
    a first number (none on file) is refused (403) in a session that may not enrol one (`enrolment_refusal`).
    """
    user = request.user
    next_url = _next(request)
    channels = flow.available_channels()
    verification = state.get_state(request)
    form: PhoneForm | None = None
    # "Verify the number on file, then change it": the flag travels to the code form and back.
    after: dict[str, str] = {}
    if request.POST.get(USE_SAVED_FIELD):
        saved = flow.verified_number(user)  # type: ignore[arg-type]
        if saved is None:
            notices.add(request, notices.WARNING, _("There is no verified number on file. Enter your phone number."))
            return _redirect("verification:phone", next_url)
        number = saved.number
        channel = request.POST.get("channel", "")
        channel = channel if channel in channels else channels[0]
        if request.POST.get(OTHER_NUMBER_FIELD):
            after[OTHER_NUMBER_FIELD] = "1"
    else:
        form = PhoneForm(request.POST, channels=channels)
        if not form.is_valid():
            refusal = flow.number_change_refusal(flow.verified_number(user), verification)  # type: ignore[arg-type]
            if refusal is not None:
                # Whatever was typed, no other number may be used now: say so rather than fix the typo.
                return _change_refused(request, next_url, refusal)
            return render_phone(request, form, next_url, status=400)
        number = form.cleaned_data["number"]
        channel = form.cleaned_data.get("channel") or channels[0]
    try:
        flow.start_verification(
            user,  # type: ignore[arg-type]
            number,
            channel=channel,
            ip=network.client_ip(request.META),
            locale=get_language(),
            verification=verification,
            **session_facts(request),
        )
    except NumberChangeNotAllowed as exc:
        return _change_refused(request, next_url, exc)
    except SendLimitExceeded as exc:
        pending = flow.pending_challenge(user)  # type: ignore[arg-type]
        if exc.scope == SCOPE_COOLDOWN and pending is not None and pending.number == number:
            # A double submission, or the back button: the code sent a moment ago is the one to enter.
            notices.add(
                request,
                notices.INFO,
                _("A code was just sent to %(number)s. Enter it below.") % {"number": pending.masked},
            )
            return _redirect("verification:confirm", next_url, **after)
        return _send_failed(request, form, next_url, exc)
    except VerificationError as exc:
        return _send_failed(request, form, next_url, exc)
    return _redirect("verification:confirm", next_url, **after)


@verification_view()
def confirm(request: HttpRequest) -> HttpResponse:
    """Show the code form (GET), or check the posted code and go to the safe `next` (POST).

    A code sent to a number other than the one on file is confirmed only while this session may change
    it; after verifying the number on file "to change it" (OTHER_NUMBER_FIELD), the number form follows.
    A first number is confirmed only in a session that may enrol one (`enrolment_refusal`). When the
    confirmed code replaced the number on file, every other session of the user ends.
    """
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    user = request.user
    next_url = _next(request)
    verification = state.get_state(request)
    challenge = flow.pending_challenge(user)  # type: ignore[arg-type]
    saved = flow.verified_number(user)  # type: ignore[arg-type]
    if request.method != "POST":
        if challenge is not None and enrolment_refusal(request, saved) is not None:
            # The phone page says why; the code stays for a session that may confirm it.
            return _redirect("verification:phone", next_url)
        if challenge is None:
            notices.add(request, notices.INFO, _("No code is waiting to be confirmed. Ask for a new code."))
            return _redirect("verification:phone", next_url)
        refusal = flow.number_refusal(saved, challenge.number, verification)
        if refusal is not None:
            # Checked again (and the code cancelled) on POST; a GET changes nothing.
            notices.add(request, notices.ERROR, describe(refusal))
            return _redirect("verification:phone", next_url, **{OTHER_NUMBER_FIELD: "1"})
        return render_confirm(request, CodeForm(initial={"next": next_url}), challenge, next_url)

    form = CodeForm(request.POST)
    if not form.is_valid():
        if challenge is None:
            notices.add(request, notices.WARNING, describe(NoPendingVerification()))
            return _redirect("verification:phone", next_url)
        return render_confirm(request, form, challenge, next_url, status=400)
    try:
        verified = flow.check_code(
            user,  # type: ignore[arg-type]
            form.cleaned_data["code"],
            verification=verification,
            **session_facts(request),
        )
    except LoginAgainRequired:
        # The phone page says why; the code stays for a session that may confirm it.
        return _redirect("verification:phone", next_url)
    except NumberChangeNotAllowed as exc:
        notices.add(request, notices.ERROR, describe(exc))
        return _redirect("verification:phone", next_url, **{OTHER_NUMBER_FIELD: "1"})
    except VerificationError as exc:
        # A code that may be tried again stays on this page while its challenge lives; any other failure
        # (too many attempts, expired, no code waiting...) ends this challenge: start again.
        challenge = flow.pending_challenge(user)  # type: ignore[arg-type]
        outcome = outcome_for(exc)
        if challenge is None or outcome.next_step not in (RETRY, WAIT):
            notices.add(request, notices.ERROR, describe(exc))
            return _redirect("verification:phone", next_url)
        form.add_error("code", describe(exc))
        return render_confirm(request, form, challenge, next_url, status=outcome.status)
    if saved is not None and saved.number != verified.number:
        # The old number no longer proves anything: whoever holds another session of the user (the phone
        # that was lost, say) is logged out. Before the key changes, so this session is the one kept.
        sessions.end_sessions(user, keep=request.session.session_key)
    state.mark_session_verified(request, verified.number)
    verified_text = _("Thank you: your phone number %(number)s is verified.") % {"number": verified.masked}
    if then_change(request):
        notices.add(request, notices.SUCCESS, verified_text)
        notices.add(request, notices.INFO, _("Now enter your new phone number."))
        return _redirect("verification:phone", next_url, **{OTHER_NUMBER_FIELD: "1"})
    # The page the user came for is the site's: say it there only if the site shows messages.
    messages.success(request, verified_text, fail_silently=True)
    return HttpResponseRedirect(safe_next_url(request.POST.get(REDIRECT_FIELD_NAME), request))


@verification_view(require_POST)
def resend(request: HttpRequest) -> HttpResponse:
    """Cancel the current code and send a new one to the same number, once the cooldown is over."""
    user = request.user
    next_url = _next(request)
    after = {OTHER_NUMBER_FIELD: "1"} if then_change(request) else {}
    try:
        challenge = flow.resend_code(
            user,  # type: ignore[arg-type]
            ip=network.client_ip(request.META),
            locale=get_language(),
            verification=state.get_state(request),
            **session_facts(request),
        )
    except LoginAgainRequired:
        return _redirect("verification:phone", next_url)
    except NumberChangeNotAllowed as exc:
        notices.add(request, notices.ERROR, describe(exc))
        return _redirect("verification:phone", next_url, **{OTHER_NUMBER_FIELD: "1"})
    except VerificationError as exc:
        notices.add(request, notices.ERROR, describe(exc))
        pending = flow.pending_challenge(user)  # type: ignore[arg-type]
        return _redirect("verification:confirm" if pending else "verification:phone", next_url, **after)
    notices.add(request, notices.SUCCESS, _("A new code was sent to %(number)s.") % {"number": challenge.masked})
    return _redirect("verification:confirm", next_url, **after)


@verification_view(require_POST)
def cancel(request: HttpRequest) -> HttpResponse:
    """Cancel the pending code and return to the phone step (to the number form with other=1)."""
    next_url = _next(request)
    flow.cancel_verification(request.user)  # type: ignore[arg-type]
    if request.POST.get(OTHER_NUMBER_FIELD):
        return _redirect("verification:phone", next_url, **{OTHER_NUMBER_FIELD: "1"})
    notices.add(request, notices.INFO, _("The code was cancelled."))
    return _redirect("verification:phone", next_url)


def _next(request: HttpRequest) -> str:
    """Return the request's `next` if it is safe, else ""; it is carried from page to page."""
    value = request.POST.get(REDIRECT_FIELD_NAME) if request.method == "POST" else None
    if value is None:
        value = request.GET.get(REDIRECT_FIELD_NAME, "")
    return value if is_safe_next(value, request) else ""


def _redirect(url_name: str, next_url: str, **params: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(with_next(reverse(url_name), next_url, **params))


def _send_failed(request: HttpRequest, form: PhoneForm | None, next_url: str, exc: VerificationError) -> HttpResponse:
    if form is None:
        notices.add(request, notices.ERROR, describe(exc))
        return _redirect("verification:phone", next_url)
    saved = flow.verified_number(request.user)  # type: ignore[arg-type]
    if saved is not None and flow.number_change_refusal(saved, state.get_state(request)) is not None:
        # The page shows the number on file, not the form: an error on its field would not be seen.
        notices.add(request, notices.ERROR, describe(exc))
    form.add_error("number", describe(exc))
    return render_phone(request, form, next_url, status=outcome_for(exc).status)


def _change_refused(request: HttpRequest, next_url: str, exc: NumberChangeNotAllowed) -> HttpResponse:
    notices.add(request, notices.ERROR, describe(exc))
    form = PhoneForm(initial={"next": next_url}, channels=flow.available_channels())
    return render_phone(request, form, next_url, status=outcome_for(exc).status, change_requested=True)
