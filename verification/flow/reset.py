"""The use case that resets a user's verified number: the one way staff (the admin, the command line) do it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from verification import sessions, signals
from verification.flow._challenges import OPEN_STATUSES, Status, cancel_at_backend, logger
from verification.models import Challenge, NumberReset, VerifiedNumber

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = ["reset_number"]


def reset_number(user: AbstractBaseUser, *, actor: AbstractBaseUser | None = None, actor_label: str) -> NumberReset:
    """Forget the user's verified number, cancel their pending codes, record who did it; return the record.

    In one transaction: the `VerifiedNumber` is deleted, the open challenges are cancelled (so no code
    sent before the reset can enrol a number after it) and a `NumberReset` is saved. Once it commits,
    every session of the user ends (`verification.sessions.end_sessions`) and their codes are
    cancelled at the backend too. Then `number_reset` is sent. Only sessions that log in after the
    reset may enrol a new number (`verification.flow.enrolment_refusal`). `actor_label` says who
    reset it in the audit record and the log: "staff:<pk>", "command line".
    """
    with transaction.atomic():
        # A write first: on SQLite a transaction that reads before it writes may fail to take the lock.
        reset = NumberReset.objects.create(
            user_id=user.pk, actor_id=actor.pk if actor else None, actor_label=actor_label
        )
        # Locked, as `check_code` locks it before saving a number: a code confirmed meanwhile waits, then
        # finds its challenge cancelled.
        previous = VerifiedNumber.objects.select_for_update().filter(user_id=user.pk).first()
        if previous is not None:
            previous.delete()
        open_challenges = list(Challenge.objects.filter(user_id=user.pk, status__in=OPEN_STATUSES))
        Challenge.objects.filter(pk__in=[c.pk for c in open_challenges]).update(status=Status.CANCELLED)
        # The provider is asked only after the commit, so no lock is held across its round trip.
        transaction.on_commit(lambda: _after_commit(user, open_challenges))
    logger.info(
        "Number reset: user=%s by=%s number=%s challenges_cancelled=%s",
        user.pk,
        actor_label,
        previous.masked if previous is not None else "-",
        len(open_challenges),
    )
    signals.number_reset.send(sender=Challenge, user=user, actor=actor, actor_label=actor_label, reset=reset)
    return reset


def _after_commit(user: AbstractBaseUser, cancelled: list[Challenge]) -> None:
    ended = sessions.end_sessions(user)
    cancel_at_backend(cancelled)
    logger.info("Sessions ended after a number reset: user=%s sessions=%s", user.pk, ended)
