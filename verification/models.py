"""The verification records: a user's verified number, each challenge, the local backends' codes, throttle locks,
the sessions the app knows of, and each reset of a user's number."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification._compat import moved
from verification.network import client_network
from verification.phone import destination_region, mask_number

__all__ = ["BreakerTrip", "Challenge", "LocalCode", "NumberReset", "ThrottleLock", "UserSession", "VerifiedNumber"]

#: E.164 is at most 15 digits after the "+".
NUMBER_LENGTH = 16
#: ISO 3166 codes have two letters; phonenumbers says "001" for non-geographic numbers (+800, +882...).
REGION_LENGTH = 3
#: The longest IPv6 network written out: 39 characters of address, then "/128".
NETWORK_LENGTH = 43


class VerifiedNumber(models.Model):
    """The phone number a user last confirmed (E.164); replaced only when a code sent to a new one is confirmed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="verified_number",
        verbose_name=_("user"),
    )
    number = models.CharField(_("number"), max_length=NUMBER_LENGTH)
    verified_at = models.DateTimeField(_("verified at"), default=timezone.now)

    class Meta:
        verbose_name = _("verified number")
        verbose_name_plural = _("verified numbers")

    def __str__(self) -> str:
        return mask_number(self.number)

    @property
    def masked(self) -> str:
        """The number with most digits hidden, for pages and logs."""
        return mask_number(self.number)


class Challenge(models.Model):
    """One attempt to verify a number: a code sent by a backend, and what became of it."""

    class Status(models.TextChoices):
        SENDING = "sending", _("sending")
        PENDING = "pending", _("pending")
        VERIFIED = "verified", _("verified")
        LOCKED = "locked", _("locked (too many wrong codes)")
        EXPIRED = "expired", _("expired")
        CANCELLED = "cancelled", _("cancelled")
        UNDELIVERED = "undelivered", _("not sent")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="verification_challenges",
        verbose_name=_("user"),
    )
    number = models.CharField(_("number"), max_length=NUMBER_LENGTH)
    backend = models.CharField(_("backend"), max_length=255)
    request_id = models.CharField(_("backend request id"), max_length=255, blank=True)
    channel = models.CharField(_("channel"), max_length=32, default="sms")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    client_ip = models.GenericIPAddressField(_("client IP address"), null=True, blank=True)
    # Derived from `number` and `client_ip` on save, so each send budget counts by a plain indexed equality.
    region = models.CharField(_("destination region"), max_length=REGION_LENGTH, blank=True, default="")
    client_network = models.CharField(_("client network"), max_length=NETWORK_LENGTH, blank=True, default="")
    # The number was the one its user had verified: such sends spend neither the number's budgets for
    # other accounts nor the circuit breakers' share for new numbers.
    known_number = models.BooleanField(_("to the user's verified number"), default=False)
    # No code was sent: another account verified the number (VERIFICATION_NUMBER_SHARING off). No code is right.
    withheld = models.BooleanField(_("withheld"), default=False)

    class Meta:
        verbose_name = _("verification challenge")
        verbose_name_plural = _("verification challenges")
        ordering = ["-created_at"]
        # The send budgets read the newest rows per user, number, client network and destination region,
        # and of the whole site: (key, created_at) lets each one walk its index backwards from now.
        indexes = [
            models.Index(fields=["user", "created_at"], name="verification_user_created"),
            models.Index(fields=["number", "created_at"], name="verification_number_created"),
            models.Index(fields=["client_network", "created_at"], name="verification_network_created"),
            models.Index(fields=["region", "created_at"], name="verification_region_created"),
            models.Index(fields=["created_at"], name="verification_created"),
        ]

    def __str__(self) -> str:
        return f"{mask_number(self.number)} ({self.get_status_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, filling `region` and `client_network` from `number` and `client_ip` when they are blank."""
        if not self.region:
            self.region = destination_region(self.number)
        if not self.client_network and self.client_ip:
            self.client_network = client_network(self.client_ip)
        super().save(*args, **kwargs)

    @property
    def masked(self) -> str:
        """The number with most digits hidden, for pages and logs."""
        return mask_number(self.number)


class LocalCode(models.Model):
    """A code issued by the console or locmem backend: only its keyed hash is kept, in the database."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        USED = "used", _("used")
        CANCELLED = "cancelled", _("cancelled")

    request_id = models.CharField(_("request id"), max_length=64, unique=True)
    number = models.CharField(_("number"), max_length=NUMBER_LENGTH)
    channel = models.CharField(_("channel"), max_length=32)
    code_hash = models.CharField(_("code hash"), max_length=128)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("local code")
        verbose_name_plural = _("local codes")

    def __str__(self) -> str:
        return f"{self.request_id} ({mask_number(self.number)})"


class ThrottleLock(models.Model):
    """A row per user, number or client address, locked while a send is counted against its budget.

    Locking it serialises concurrent sends for the same key in every worker, so a count-then-insert
    cannot race past a limit (PostgreSQL row lock; SQLite's write lock). The row holds no count (the
    challenges are the count), so one not touched for a while may be deleted at any time.
    """

    key = models.CharField(_("key"), max_length=100, primary_key=True)
    touched_at = models.DateTimeField(_("touched at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("throttle lock")
        verbose_name_plural = _("throttle locks")

    def __str__(self) -> str:
        return self.key


class BreakerTrip(models.Model):
    """A circuit breaker that is refusing codes, from when, until when: what makes a trip reported once."""

    key = models.CharField(_("breaker"), max_length=100, primary_key=True)
    tripped_at = models.DateTimeField(_("tripped at"), default=timezone.now)
    reopens_at = models.DateTimeField(_("reopens at"))

    class Meta:
        verbose_name = _("tripped circuit breaker")
        verbose_name_plural = _("tripped circuit breakers")

    def __str__(self) -> str:
        return self.key


class UserSession(models.Model):
    """An authenticated session of a user, by its key: what `verification.sessions.end_sessions` ends."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="verification_sessions",
        verbose_name=_("user"),
    )
    session_key = models.CharField(_("session key"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("user session")
        verbose_name_plural = _("user sessions")

    def __str__(self) -> str:
        # Never the key: it is a bearer credential.
        return f"session {self.pk} of user {self.user_id}"


class NumberReset(models.Model):
    """One reset of a user's verified number: whom, by whom, when."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="verification_resets",
        verbose_name=_("user"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("actor label"), max_length=150)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("number reset")
        verbose_name_plural = _("number resets")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"reset of user {self.user_id} by {self.actor_label}"


__getattr__ = moved(__name__, {"UNKNOWN_REGION": "verification.phone"})
