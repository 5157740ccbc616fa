"""Staff resets and the sessions around them: the admin's action, who may enrol after it, number changes.

The attacks these tests close: a stolen staff password alone resets its own second factor in the
admin; after a staff reset, the lost phone's browser session stays verified and enrols a new number
without the password; after a number change, the old phone's sessions stay verified.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse

from verification import flow, sessions, signals, views
from verification.exceptions import LoginAgainRequired
from verification.models import Challenge, NumberReset, UserSession, VerifiedNumber
from verification.testing import latest_code, outbox, verify_client

pytestmark = pytest.mark.django_db

#: The user's phone, on file (then lost).
NUMBER = "+447400123456"
#: The user's new phone.
NEW_NUMBER = "+447911125678"
#: The phone of whoever kept the lost phone's session, or stole a password.
ATTACKER = "+447400999888"
#: The staff member's own phone.
STAFF_NUMBER = "+447400555666"
PHONE = reverse("verification:phone")
SEND = reverse("verification:send")
CONFIRM = reverse("verification:confirm")
RESEND = reverse("verification:resend")
CHANGELIST = reverse("admin:verification_verifiednumber_changelist")
ACCOUNT = "/account/"
LOGIN_AGAIN = "To register a phone number, log out and log in again"


@pytest.fixture
def staff():
    """A staff superuser with their own verified number."""
    user = get_user_model().objects.create_superuser("staff", email="staff@example.com")
    VerifiedNumber.objects.create(user=user, number=STAFF_NUMBER)
    return user


@pytest.fixture
def staff_client(staff, frozen):
    """The staff member's session, logged in and verified just now."""
    client = Client()
    client.force_login(staff)
    verify_client(client, STAFF_NUMBER)
    return client


@pytest.fixture
def lost_phone(owner, frozen):
    """The owner's session on the lost phone: logged in and verified before any reset."""
    client = Client()
    client.force_login(owner)
    verify_client(client, NUMBER)
    assert client.get(ACCOUNT).status_code == 200
    return client


@pytest.fixture
def resets():
    """Every `number_reset` signal, as its keyword arguments."""
    calls: list[dict] = []

    def receiver(sender, signal=None, **kwargs):
        calls.append({"sender": sender, **kwargs})

    signals.number_reset.connect(receiver, weak=False, dispatch_uid="test-number-reset")
    yield calls
    signals.number_reset.disconnect(dispatch_uid="test-number-reset")


def reset_in_admin(client: Client, *users) -> str:
    """Run the admin's reset action on the numbers of `users`; return the page it leads to."""
    selected = [VerifiedNumber.objects.get(user=user).pk for user in users]
    response = client.post(CHANGELIST, {"action": "reset_numbers", "_selected_action": selected}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def logged_out(client: Client) -> bool:
    response = client.get(ACCOUNT)
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- the admin's action ---------------------------------------------------------------------------------


def test_the_admin_resets_the_number_records_it_and_signals(staff_client, staff, owner, resets, caplog):
    html = reset_in_admin(staff_client, owner)

    assert "The phone number of 1 user was reset" in html
    assert not VerifiedNumber.objects.filter(user=owner).exists()
    reset = NumberReset.objects.get(user=owner)
    assert (reset.actor, reset.actor_label) == (staff, f"staff:{staff.pk}")
    assert resets == [
        {"sender": Challenge, "user": owner, "actor": staff, "actor_label": f"staff:{staff.pk}", "reset": reset}
    ]
    logged = [record.getMessage() for record in caplog.records if "Number reset" in record.getMessage()]
    assert logged == [
        f"Number reset: user={owner.pk} by=staff:{staff.pk} number=+44 •••• ••3456 challenges_cancelled=0"
    ]
    assert NUMBER not in caplog.text


def test_the_admin_never_resets_the_acting_users_own_number(staff_client, staff, owner):
    html = reset_in_admin(staff_client, staff, owner)

    assert "Your own phone number was not reset" in html
    assert "The phone number of 1 user was reset" in html
    assert VerifiedNumber.objects.get(user=staff).number == STAFF_NUMBER
    assert not VerifiedNumber.objects.filter(user=owner).exists()
    assert not NumberReset.objects.filter(user=staff).exists()


def test_a_stolen_staff_password_alone_cannot_reset_its_own_number(staff, frozen):
    # Logged in with the password, never verified (the test site leaves its admin unprotected).
    client = Client()
    client.force_login(staff)

    response = client.post(
        CHANGELIST, {"action": "reset_numbers", "_selected_action": [VerifiedNumber.objects.get(user=staff).pk]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{PHONE}?next={CHANGELIST}"
    assert VerifiedNumber.objects.get(user=staff).number == STAFF_NUMBER
    assert not NumberReset.objects.exists()


def test_a_stale_verification_is_refused_then_a_fresh_one_resets(staff_client, owner, frozen, settings):
    settings.VERIFICATION_NUMBER_CHANGE_MAX_AGE = 600
    frozen.shift(timedelta(seconds=601))

    response = staff_client.post(
        CHANGELIST,
        {"action": "reset_numbers", "_selected_action": [VerifiedNumber.objects.get(user=owner).pk]},
        follow=True,
    )

    assert response.redirect_chain[0][0].startswith(PHONE)
    assert "Verify your phone number, then reset the numbers again." in response.content.decode()
    assert VerifiedNumber.objects.get(user=owner).number == NUMBER
    verify_client(staff_client, STAFF_NUMBER)
    assert "The phone number of 1 user was reset" in reset_in_admin(staff_client, owner)


def test_after_a_reset_every_session_of_the_user_is_logged_out(
    staff_client, owner, lost_phone, django_capture_on_commit_callbacks
):
    laptop = Client()
    laptop.force_login(owner)
    assert UserSession.objects.filter(user=owner).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        reset_in_admin(staff_client, owner)

    assert logged_out(lost_phone)
    assert logged_out(laptop)
    assert not UserSession.objects.filter(user=owner).exists()
    assert staff_client.get(ACCOUNT).status_code == 200


def test_the_reset_cancels_a_code_sent_to_the_lost_phone(staff_client, owner, lost_phone, frozen):
    lost_phone.post(SEND, {views.USE_SAVED_FIELD: "1"})
    code = latest_code(NUMBER)
    reset_in_admin(staff_client, owner)
    frozen.shift(timedelta(seconds=1))

    # Even a session allowed to enrol cannot use the code the lost phone received before the reset.
    fresh = Client()
    fresh.force_login(owner)
    fresh.post(CONFIRM, {"code": code})

    assert not VerifiedNumber.objects.filter(user=owner).exists()
    assert Challenge.objects.get(user=owner).status == Challenge.Status.CANCELLED


# --- enrolling after a reset ----------------------------------------------------------------------------


def test_a_session_from_before_the_reset_cannot_enrol_a_number(staff_client, owner, lost_phone, frozen):
    # The sessions end when the reset commits; this one stands for any that outlived it.
    reset_in_admin(staff_client, owner)
    frozen.shift(timedelta(seconds=60))
    sent_before = len(outbox())

    page = lost_phone.get(PHONE)
    sent = lost_phone.post(SEND, {"number": ATTACKER})

    assert 'name="number"' not in page.content.decode()
    assert LOGIN_AGAIN in page.content.decode()
    assert sent.status_code == 403
    assert LOGIN_AGAIN in sent.content.decode()
    assert len(outbox()) == sent_before
    assert not VerifiedNumber.objects.filter(user=owner).exists()


def test_a_session_from_before_the_reset_cannot_confirm_or_resend_a_first_number(
    staff_client, owner, lost_phone, frozen
):
    reset_in_admin(staff_client, owner)
    frozen.shift(timedelta(seconds=60))
    # A code to the attacker's phone, sent by a session that may enrol (or planted behind the pages' back).
    fresh = Client()
    fresh.force_login(owner)
    assert fresh.post(SEND, {"number": ATTACKER}).status_code == 302
    code = latest_code(ATTACKER)
    frozen.shift(timedelta(seconds=60))

    assert lost_phone.get(CONFIRM)["Location"] == PHONE
    assert lost_phone.post(RESEND)["Location"] == PHONE
    assert lost_phone.post(CONFIRM, {"code": code})["Location"] == PHONE

    assert len(outbox()) == 1
    assert not VerifiedNumber.objects.filter(user=owner).exists()


def test_a_session_without_a_known_login_time_cannot_enrol_after_a_reset(staff_client, owner, frozen):
    # Logged in before the session registry existed: no login time, no registry row.
    old = Client()
    old.force_login(owner)
    session = old.session
    del session[sessions.LOGIN_AT_SESSION_KEY]
    session.save()
    UserSession.objects.filter(user=owner).delete()
    reset_in_admin(staff_client, owner)
    frozen.shift(timedelta(days=1))

    assert old.post(SEND, {"number": ATTACKER}).status_code == 403
    assert outbox() == []


def test_a_session_that_logged_in_after_the_reset_enrols_a_new_number(staff_client, owner, frozen):
    reset_in_admin(staff_client, owner)
    frozen.shift(timedelta(seconds=1))
    client = Client()
    client.force_login(owner)

    assert 'name="number"' in client.get(PHONE).content.decode()
    assert client.post(SEND, {"number": NEW_NUMBER}).status_code == 302
    assert client.post(CONFIRM, {"code": latest_code(NEW_NUMBER)}).status_code == 302

    assert VerifiedNumber.objects.get(user=owner).number == NEW_NUMBER
    assert client.get(ACCOUNT).status_code == 200


def test_a_user_never_reset_enrols_as_before():
    user = get_user_model().objects.create_user("bob")
    assert flow.enrolment_refusal(user, logged_in_at=None, registered=False) is None


def test_a_login_in_the_same_second_as_the_reset_counts_as_before_it(owner, frozen):
    at = flow.reset_number(owner, actor_label="test").at.timestamp()

    refusal = flow.enrolment_refusal(owner, logged_in_at=int(at), registered=True)
    assert isinstance(refusal, LoginAgainRequired)
    assert refusal.reason == LoginAgainRequired.BEFORE_RESET
    assert flow.enrolment_refusal(owner, logged_in_at=int(at) + 1, registered=True) is None
    assert flow.enrolment_refusal(owner, logged_in_at=int(at) + 1, registered=False) is not None


def test_the_flow_itself_refuses_a_first_number_after_a_reset_unless_told_of_a_later_login(owner, frozen):
    """The rule is the flow's, not only the views': a caller that says nothing of the session is refused."""
    at = int(flow.reset_number(owner, actor_label="test").at.timestamp())

    with pytest.raises(LoginAgainRequired):
        flow.start_verification(owner, NEW_NUMBER, ip="203.0.113.9")
    assert not outbox()
    flow.start_verification(owner, NEW_NUMBER, ip="203.0.113.9", logged_in_at=at + 1, registered=True)
    with pytest.raises(LoginAgainRequired):
        flow.check_code(owner, latest_code(NEW_NUMBER))
    with pytest.raises(LoginAgainRequired):
        flow.resend_code(owner, ip="203.0.113.9")
    # The refusals used no attempt: the right code still works for a session that may enrol.
    flow.check_code(owner, latest_code(NEW_NUMBER), logged_in_at=at + 1, registered=True)
    assert VerifiedNumber.objects.get(user=owner).number == NEW_NUMBER


# --- staff: trust on first use, from a fresh login ----------------------------------------------------


@pytest.mark.parametrize(("is_staff", "wait", "allowed"), [(True, 300, True), (True, 301, False), (False, 3600, True)])
def test_the_staff_enrolment_window(settings, frozen, is_staff, wait, allowed):
    settings.VERIFICATION_STAFF_ENROLMENT_LOGIN_MAX_AGE = 300
    user = get_user_model().objects.create_user("carol", is_staff=is_staff)
    client = Client()
    client.force_login(user)
    frozen.shift(timedelta(seconds=wait))

    page = client.get(PHONE).content.decode()
    sent = client.post(SEND, {"number": NEW_NUMBER})

    assert ('name="number"' in page) is allowed
    assert (sent.status_code == 302) is allowed
    assert (LOGIN_AGAIN in page) is not allowed
    assert len(outbox()) == (1 if allowed else 0)


def test_without_the_window_staff_enrol_at_any_time(frozen):
    user = get_user_model().objects.create_user("dave", is_staff=True)
    client = Client()
    client.force_login(user)
    frozen.shift(timedelta(days=3))

    assert client.post(SEND, {"number": NEW_NUMBER}).status_code == 302


# --- a number change ends the other sessions --------------------------------------------------------------


def test_a_number_change_ends_the_other_sessions_and_keeps_this_one(owner, lost_phone, frozen):
    other_tab = Client()
    other_tab.force_login(owner)
    changing = Client()
    changing.force_login(owner)
    verify_client(changing, NUMBER)

    assert changing.post(SEND, {"number": NEW_NUMBER}).status_code == 302
    assert changing.post(CONFIRM, {"code": latest_code(NEW_NUMBER)}).status_code == 302

    assert VerifiedNumber.objects.get(user=owner).number == NEW_NUMBER
    assert logged_out(lost_phone)
    assert logged_out(other_tab)
    assert changing.get(ACCOUNT).status_code == 200
    assert changing.get("/shop/1/").status_code == 200
    assert list(UserSession.objects.filter(user=owner).values_list("session_key", flat=True)) == [
        changing.session.session_key
    ]


def test_verifying_the_same_number_again_ends_no_session(owner, lost_phone, frozen):
    other = Client()
    other.force_login(owner)
    frozen.shift(timedelta(seconds=60))

    other.post(SEND, {views.USE_SAVED_FIELD: "1"})
    other.post(CONFIRM, {"code": latest_code(NUMBER)})

    assert lost_phone.get(ACCOUNT).status_code == 200


# --- the checks ----------------------------------------------------------------------------------------


def deploy_check_ids() -> list[str]:
    return sorted({m.id for m in run_checks(tags=["verification"], include_deployment_checks=True) if m.id})


@pytest.mark.parametrize(
    ("required", "exempt", "warned"),
    [
        (["account"], [], True),
        (["account", {"name": "admin:*", "max_age": 900}], [], False),
        (["account", "admin:index"], [], False),
        ([r"^/admin/"], [], False),
        ([r"^/"], ["admin:*"], True),
    ],
)
def test_w010_the_admin_is_not_behind_verification(settings, required, exempt, warned):
    settings.DEBUG = True
    settings.VERIFICATION_REQUIRED_URLS = required
    settings.VERIFICATION_EXEMPT_URLS = exempt

    assert ("verification.W010" in deploy_check_ids()) is warned
    # Deploy checks only.
    assert "verification.W010" not in {m.id for m in run_checks(tags=["verification"])}


def test_no_w010_without_the_admin(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django.contrib.admin"]
    settings.DEBUG = True
    assert "verification.W010" not in deploy_check_ids()


@pytest.mark.parametrize("value", [0, -1, "300", 1.5, True])
def test_e055_a_bad_staff_enrolment_window(settings, value):
    settings.DEBUG = True
    settings.VERIFICATION_STAFF_ENROLMENT_LOGIN_MAX_AGE = value
    assert [m.id for m in run_checks(tags=["verification"]) if m.is_serious()] == ["verification.E055"]


@pytest.mark.parametrize("value", [None, 1, 900])
def test_good_staff_enrolment_windows(settings, value):
    settings.DEBUG = True
    settings.VERIFICATION_STAFF_ENROLMENT_LOGIN_MAX_AGE = value
    assert "verification.E055" not in {m.id for m in run_checks(tags=["verification"])}
