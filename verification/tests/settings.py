"""Settings of the app's own tests: a site made of the app alone, no demo (`polls` is not installed).

`DATABASE_URL` and `CACHE_URL` choose PostgreSQL and Redis, as for the demo, so the PostgreSQL + Redis
pass runs the app's concurrency and multi-worker tests; without them, SQLite and a local-memory cache.
"""

from __future__ import annotations

from pathlib import Path

import environ

HERE = Path(__file__).resolve().parent

env = environ.Env()

DEBUG = False
SECRET_KEY = "verification-tests-only-not-a-secret"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "verification",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a POST body: a form in another charset than UTF-8 gets a 400, not a 500.
    "verification.form_charset.FormCharsetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "verification.middleware.VerificationRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "verification.tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [str(HERE / "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///:memory:")}
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://verification-tests")}
_SHARED_CACHE = CACHES["default"]["BACKEND"] != "django.core.cache.backends.locmem.LocMemCache"
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db" if _SHARED_CACHE else "django.contrib.sessions.backends.db"
)

# Users are created in most tests: a fast hasher keeps them quick (nothing here tests hashing).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

VERIFICATION_REQUIRED_URLS = ["shop:detail", "shop:results", "shop:vote", "account"]
VERIFICATION_BACKEND = "verification.backends.locmem.LocmemVerifyBackend"
VERIFICATION_BRAND = "Example Shop"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # The Vonage SDK writes codes and full numbers at DEBUG: never let them through.
        "vonage": {"level": "WARNING"},
        "vonage_http_client": {"level": "WARNING"},
    },
}
