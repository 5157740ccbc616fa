"""The admin: numbers masked in lists and details, search by user, read-only records, the reset action."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from verification import flow
from verification.backends import locmem
from verification.exceptions import NoPendingVerification
from verification.models import Challenge, VerifiedNumber
from verification.testing import verify_client

pytestmark = pytest.mark.django_db
NUMBER = "+447400123456"
OTHER = "+447911125678"


@pytest.fixture
def records():
    user_model = get_user_model()
    alice = user_model.objects.create_user("alice", email="alice@example.com")
    bob = user_model.objects.create_user("bob", email="bob@example.com")
    VerifiedNumber.objects.create(user=alice, number=NUMBER)
    VerifiedNumber.objects.create(user=bob, number=OTHER)
    flow.start_verification(alice, NUMBER, ip="203.0.113.7")
    return alice, bob


@pytest.mark.parametrize("model", ["verifiednumber", "challenge"])
def test_lists_show_masked_numbers_only(admin_client, records, model):
    html = admin_client.get(reverse(f"admin:verification_{model}_changelist")).content.decode()

    assert "+44 •••• ••3456" in html
    assert NUMBER not in html
    assert OTHER not in html


@pytest.mark.parametrize("model", [VerifiedNumber, Challenge])
def test_details_show_masked_numbers_only(admin_client, records, model):
    obj = model.objects.filter(user=records[0]).get()
    url = reverse(f"admin:verification_{model._meta.model_name}_change", args=[obj.pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "+44 •••• ••3456" in html
    assert NUMBER not in html
    assert 'name="number"' not in html


@pytest.mark.parametrize(("term", "found"), [("alice", "alice"), ("bob@example", "bob")])
def test_search_by_user(admin_client, records, term, found):
    response = admin_client.get(reverse("admin:verification_verifiednumber_changelist"), {"q": term})

    assert [vn.user.username for vn in response.context["cl"].result_list] == [found]


def test_challenges_are_searchable_by_user(admin_client, records):
    response = admin_client.get(reverse("admin:verification_challenge_changelist"), {"q": "bob"})

    assert list(response.context["cl"].result_list) == []


def test_records_cannot_be_added_or_edited(admin_client, records):
    assert admin_client.get(reverse("admin:verification_verifiednumber_add")).status_code == 403
    verified = VerifiedNumber.objects.get(user=records[0])
    url = reverse("admin:verification_verifiednumber_change", args=[verified.pk])
    admin_client.post(url, {"number": "+33612345678"})

    verified.refresh_from_db()
    assert verified.number == NUMBER


def test_the_reset_action_forgets_the_number_and_cancels_pending_codes(admin_client, records):
    alice, bob = records
    verify_client(admin_client, "+447400555666")
    pending = Challenge.objects.get(user=alice)
    code = locmem.outbox[-1].code

    response = admin_client.post(
        reverse("admin:verification_verifiednumber_changelist"),
        {
            "action": "reset_numbers",
            "_selected_action": [VerifiedNumber.objects.get(user=alice).pk],
        },
        follow=True,
    )

    assert "The phone number of 1 user was reset; their sessions were ended." in response.content.decode()
    assert not VerifiedNumber.objects.filter(user=alice).exists()
    assert VerifiedNumber.objects.filter(user=bob).exists()
    pending.refresh_from_db()
    assert pending.status == Challenge.Status.CANCELLED
    with pytest.raises(NoPendingVerification):
        flow.check_code(alice, code)


def test_a_number_cannot_be_deleted_around_the_reset_action(admin_client, records):
    """Deleting the row would remove a second factor without the reset's checks, record and revocation."""
    alice, _bob = records
    verified = VerifiedNumber.objects.get(user=alice)
    verify_client(admin_client, "+447400555666")

    assert admin_client.get(reverse("admin:verification_verifiednumber_delete", args=[verified.pk])).status_code == 403
    admin_client.post(reverse("admin:verification_verifiednumber_delete", args=[verified.pk]), {"post": "yes"})
    changelist = admin_client.get(reverse("admin:verification_verifiednumber_changelist"))
    admin_client.post(
        reverse("admin:verification_verifiednumber_changelist"),
        {"action": "delete_selected", "_selected_action": [verified.pk], "post": "yes"},
    )

    assert VerifiedNumber.objects.filter(pk=verified.pk).exists()
    assert "delete_selected" not in changelist.content.decode()
    assert "reset_numbers" in changelist.content.decode()


def test_only_staff_with_the_delete_permission_may_reset(client, records):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("carol", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_verifiednumber"))
    client.force_login(staff)
    verify_client(client, "+447400555777")
    changelist = reverse("admin:verification_verifiednumber_changelist")

    assert "reset_numbers" not in client.get(changelist).content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="delete_verifiednumber"))
    assert "reset_numbers" in client.get(changelist).content.decode()
