"""The verification use cases: send a code, check it, resend, cancel; plain functions with no HTTP in them.

Views (and any later JSON API) are thin adapters: they pass the user, the client address and the
locale, and turn the `VerificationError` subclasses raised here into messages. The pending challenge
is always looked up in the database (the user's newest live one), never kept in the session, so a
replayed or late request finds nothing to act on and any worker can serve any step.

A user with a verified number on file verifies with that number. A code to another number is sent,
and confirmed, only in a session that verified the number on file within
VERIFICATION_NUMBER_CHANGE_MAX_AGE seconds (`number_refusal`): otherwise a stolen password alone would
let anyone enrol their own phone and pass the second factor. The callers pass the session's
verification (`verification.state.get_state`) as `verification`; leaving it out counts as none.

With no number on file, a first number is enrolled only in a session that logged in after the user's
last staff reset (`reset_number`), and, for staff with VERIFICATION_STAFF_ENROLMENT_LOGIN_MAX_AGE set,
soon after logging in (`enrolment_refusal`). The callers pass what they know of the session,
`logged_in_at` and `registered` (`verification.sessions`); leaving them out counts as unknown, which
refuses a first number after a reset.
"""

from verification._compat import moved
from verification.flow.checking import check_code
from verification.flow.queries import (
    available_channels,
    enrolment_refusal,
    is_well_formed_code,
    number_change_refusal,
    number_refusal,
    pending_challenge,
    resend_available_in,
    verified_number,
)
from verification.flow.reset import reset_number
from verification.flow.sending import cancel_verification, resend_code, start_verification

__all__ = [
    "available_channels",
    "cancel_verification",
    "check_code",
    "enrolment_refusal",
    "is_well_formed_code",
    "number_change_refusal",
    "number_refusal",
    "pending_challenge",
    "resend_available_in",
    "resend_code",
    "reset_number",
    "start_verification",
    "verified_number",
]

#: Names that lived in the single-module `verification.flow` and moved: still importable, with a warning.
__getattr__ = moved(__name__, {"WrongCode": "verification.exceptions", "mark_session_verified": "verification.state"})
