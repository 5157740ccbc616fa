"""The database check of the numbers on file (W012): those that today's destination rules would refuse.

Run by `manage.py check --database default` and by `migrate`, not by a plain `check` (it reads rows).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError
from django.db.models import QuerySet

from verification.conf import conf
from verification.models import VerifiedNumber
from verification.phone import destination_refusal, mask_number

__all__ = ["LISTED", "check_numbers_on_file"]

#: Numbers named in the message, at most; the count says how many there are.
LISTED = 10


# Tagged `database` only: Django 6 runs a check of any tag asked for (`check --tag verification`) with every
# database, and this one reads rows; `check --database default` and `migrate` run it.
@register(Tags.database)
def check_numbers_on_file(databases: Sequence[str] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """W012: verified numbers that a new number would be refused for (landline by text, VoIP, +881/2/3)."""
    if not databases:
        return []
    channel = conf.CHANNELS[0] if conf.CHANNELS else "sms"
    messages: list[CheckMessage] = []
    for alias in databases:
        try:
            refused = list(_refused_numbers(VerifiedNumber.objects.using(alias).order_by("pk"), channel))
        except DatabaseError:
            # Not migrated yet (the check runs before `migrate` creates the table).
            continue
        if not refused:
            continue
        listed = "; ".join(f"user {user_id}: {masked} ({reason})" for user_id, masked, reason in refused[:LISTED])
        more = f"; and {len(refused) - LISTED} more" if len(refused) > LISTED else ""
        messages.append(
            CheckWarning(
                f"{len(refused)} verified number(s) in database {alias!r} are of kinds codes are no longer sent "
                f"to for new numbers by {channel!r}: {listed}{more}. Their owners keep using them.",
                hint="Nothing is locked: decide per user. To allow the kind for everyone, set "
                "VERIFICATION_ALLOW_VOIP or VERIFICATION_ALLOW_INTERNATIONAL_NETWORKS; to move a user to "
                "another number, reset theirs in the admin.",
                id="verification.W012",
            )
        )
    return messages


def _refused_numbers(numbers: QuerySet[VerifiedNumber], channel: str) -> Iterator[tuple[Any, str, str]]:
    for row in numbers.iterator():
        refusal = destination_refusal(row.number, channel)
        if refusal is not None:
            yield row.user_id, mask_number(row.number), refusal.reason
