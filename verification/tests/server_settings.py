"""Settings for the gunicorn servers of the scale-out tests: the app's test site, run as a deployment runs.

Built on `verification.tests.settings` (no demo), whose `DATABASE_URL` and `CACHE_URL` name the
throwaway PostgreSQL database and the Redis the servers share. Everything else the servers rely on is
set here, whatever the environment says. `VERIFICATION_MIDDLEWARE=off` removes the enforcement
middleware, so one load run can compare the same page with and without it. The switch lives here, in
the tests, so no production environment can turn enforcement off by accident.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from verification.tests.settings import *  # noqa: F403
from verification.tests.settings import CACHES, DATABASES, MIDDLEWARE

MIDDLEWARE_PATH = "verification.middleware.VerificationRequiredMiddleware"

if os.environ.get("VERIFICATION_MIDDLEWARE", "on").lower() == "off":
    MIDDLEWARE = [name for name in MIDDLEWARE if name != MIDDLEWARE_PATH]

# Several workers must see one another's sessions and send budgets: a cache in each process would
# let every worker spend a budget of its own.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
    raise ImproperlyConfigured("The test servers need a shared cache: set CACHE_URL=redis://...")

# Production's DEBUG: no per-request query log, the real error pages.
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
# One connection per worker, kept between requests, as a deployment keeps them.
DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 60}}
# Sessions read from Redis and written through to PostgreSQL, so every worker sees the same session.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Plain HTTP on loopback stands for the TLS proxy: nothing here is about HTTPS, so Django's defaults
# (no redirect to HTTPS, cookies without `Secure`) stay.
SECURE_SSL_REDIRECT = False
# The pages link the app's stylesheet under its plain name and nothing here fetches it: neither
# `collectstatic` nor WhiteNoise is needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Every call to the backend is printed on the server's output, where the tests read codes and count calls.
VERIFICATION_BACKEND = "verification.tests.server_backend.CountingConsoleVerifyBackend"
# With DEBUG off the console backend is a check error (E052), since it writes codes to the logs:
# intended here.
VERIFICATION_CONSOLE_BACKEND_ALLOWED = True
# Each test is its own client address (X-Forwarded-For), so the per-IP budget of one test never
# spends another's.
VERIFICATION_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
# The toll-fraud circuit breakers on, as a production site runs them: every send also goes through
# the per-region and site-wide budgets, set far above what the tests send.
VERIFICATION_COUNTRY_SEND_LIMITS = {"*": 30}
VERIFICATION_GLOBAL_SEND_LIMIT = 200
