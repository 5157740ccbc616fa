"""Signals sent by the verification flow; the sender is always `verification.models.Challenge`.

Every signal about a code gets these keyword arguments: `user` (the user verifying), `challenge` (the
`Challenge` row; its `number` is the full E.164 number, `challenge.masked` the masked one).

- `code_sent`: a backend accepted a code for delivery. Extra: `channel` ("sms", "voice"...).
- `verified`: the right code was confirmed; the number is now the user's `VerifiedNumber`.
- `verification_failed`: a wrong code. Extra: `attempts_left` (int, 0 or more).
- `verification_locked`: too many wrong codes; the challenge is dead, even for the right code.
- `account_locked`: a wrong code made VERIFICATION_FAILED_CHALLENGE_LIMIT challenges of the user fail
  within VERIFICATION_FAILED_CHALLENGE_WINDOW: no code is sent or checked for them until the oldest
  leaves the window or staff reset their number. Sent once, when it trips. Extra: `retry_after` (seconds),
  `limit`, `window`.
- `number_changed`: a confirmed code replaced the user's verified number with another one (sent after
  `verified`; never on a first enrolment, nor when the same number is verified again). Extra:
  `old_number` and `new_number` (full E.164 strings: mask them before showing or logging them).

One signal is about an account, not a code, and gets no `challenge` (its sender is still `Challenge`):

- `number_reset`: a user's verified number was reset (`verification.flow.reset_number`, which the
  admin's action calls); their pending codes are cancelled and, once the
  transaction commits, every session of theirs ends. Keyword arguments: `user` (whose number it was),
  `actor` (the staff user who reset it, or None), `actor_label` ("staff:<pk>", "command line"...),
  `reset` (the `verification.models.NumberReset` row recording it). Sent once the reset is saved.

One signal is about the site, not a user, and gets neither `user` nor `challenge`:

- `send_budget_exhausted`: a toll-fraud circuit breaker tripped. Keyword arguments: `scope`
  ("region" or "global"), `key` (the ISO 3166 region code, "001" for non-geographic numbers, or
  "global"), `limit` and `window` (the budget: sends per seconds), `retry_after` (seconds until a send
  fits again), `new_numbers_only` (True: only codes to numbers not yet verified by their user are
  refused, the reserve still serves the others). Sent once per trip, in all workers together (the trip
  is a `verification.models.BreakerTrip` row), not per refused send: a breaker that reopens and trips
  again is sent again.

Receivers run inside the request: keep them quick, and never log a code or a full number.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = [
    "account_locked",
    "code_sent",
    "number_changed",
    "number_reset",
    "send_budget_exhausted",
    "verification_failed",
    "verification_locked",
    "verified",
]

code_sent = Signal()
verified = Signal()
verification_failed = Signal()
verification_locked = Signal()
send_budget_exhausted = Signal()
number_changed = Signal()
number_reset = Signal()
account_locked = Signal()
