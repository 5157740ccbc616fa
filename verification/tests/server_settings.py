"""Settings for the gunicorn servers of the scale-out tests: Pollstr's own, with two test-only switches.

`VERIFICATION_MIDDLEWARE=off` removes the enforcement middleware, so one load run can compare the
same page with and without it. The switch lives here, not in Pollstr's settings, so no production
environment can turn enforcement off by accident.
"""

from __future__ import annotations

import os

from pollstr.settings import *  # noqa: F403
from pollstr.settings import MIDDLEWARE

MIDDLEWARE_PATH = "verification.middleware.VerificationRequiredMiddleware"

if os.environ.get("VERIFICATION_MIDDLEWARE", "on").lower() == "off":
    MIDDLEWARE = [name for name in MIDDLEWARE if name != MIDDLEWARE_PATH]

# The servers run with DEBUG off and, unless a test names a provider, the console backend, whose codes
# the tests read from the server's output: intended here, so not the check error it is in production.
VERIFICATION_CONSOLE_BACKEND_ALLOWED = True
