"""Pollstr's settings, read from the environment (and from a `.env` file when one is present).

Every variable is documented in `.env.example`. Without any of them the project runs as the
offline demo: SQLite, local-memory cache, the console Verify backend and `DEBUG=True`.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _region_limits(text: str) -> dict[str, int]:
    """Parse "GB=100,*=20" into {"GB": 100, "*": 20}; "" into {}."""
    limits: dict[str, int] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        region, _, limit = pair.partition("=")
        try:
            limits[region.strip().upper()] = int(limit)
        except ValueError:
            raise ImproperlyConfigured(
                f"VERIFICATION_COUNTRY_SEND_LIMITS: {pair!r} is not REGION=LIMIT, as in GB=100,*=20."
            ) from None
    return limits


env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
# The demo's published key signs nothing that matters on a laptop. Anywhere else it would let anyone
# forge sessions, password-reset links and CSRF tokens: with DEBUG off, Pollstr refuses to start without
# a key of its own.
DEMO_SECRET_KEY = "django-insecure-pollstr-demo-key-not-for-production"  # noqa: S105 (public, and refused below)
SECRET_KEY = env.str("SECRET_KEY", default="" if not DEBUG else DEMO_SECRET_KEY)
if not DEBUG and SECRET_KEY in ("", DEMO_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is not set, or is the demo's public one: with DEBUG=False, set SECRET_KEY in the environment "
        '(or in .env) to a long random value of your own, such as the output of: python -c "import secrets; '
        "print(secrets.token_urlsafe(50))\". The demo's key is public."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "verification",
    "polls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a POST body: a form in another charset than UTF-8 gets a 400, not a 500.
    "verification.form_charset.FormCharsetMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "verification.middleware.VerificationRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pollstr.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "pollstr.wsgi.application"
ASGI_APPLICATION = "pollstr.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once when two requests write together.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://pollstr")}

# Database sessions on one machine; with a shared cache (Redis), sessions are read from the cache
# and written through to the database, so every worker and host sees the same session.
_SHARED_CACHE = CACHES["default"]["BACKEND"] != "django.core.cache.backends.locmem.LocMemCache"
SESSION_ENGINE = env.str(
    "SESSION_ENGINE",
    default="django.contrib.sessions.backends.cached_db" if _SHARED_CACHE else "django.contrib.sessions.backends.db",
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "polls:index"
LOGOUT_REDIRECT_URL = "polls:index"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# In DEBUG, WhiteNoise serves straight from the apps' static folders; `collectstatic` fills STATIC_ROOT for production.
STATIC_ROOT = env.str("STATIC_ROOT", default="" if DEBUG else str(BASE_DIR / "staticfiles")) or None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Production hardening: on whenever DEBUG is off (each can still be set explicitly).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Phone verification (every VERIFICATION_* setting and its default: docs/settings.md).
VERIFICATION_REQUIRED_URLS = [
    "polls:detail",
    "polls:results",
    "polls:vote",
    # Changing the password needs the phone too: else a stolen password alone could lock the owner out.
    "password_change",
    "password_change_done",
    # A stolen staff password alone must not open the admin (its login and logout stay exempt).
    {"name": "admin:*", "max_age": 900},
]
VERIFICATION_BACKEND = env.str("VERIFICATION_BACKEND", default="verification.backends.console.ConsoleVerifyBackend")
VERIFICATION_CONSOLE_BACKEND_ALLOWED = env.bool("VERIFICATION_CONSOLE_BACKEND_ALLOWED", default=False)
VERIFICATION_BRAND = env.str("VERIFICATION_BRAND", default="Pollstr")
# The verification pages in Pollstr's layout (its `title` and `content` blocks), styled by polls/css/verification.css.
VERIFICATION_BASE_TEMPLATE = "base.html"
VERIFICATION_MAX_AGE = env.int("VERIFICATION_MAX_AGE", default=None)
VERIFICATION_DEFAULT_REGION = env.str("VERIFICATION_DEFAULT_REGION", default=None)
VERIFICATION_ALLOWED_COUNTRIES = env.list("VERIFICATION_ALLOWED_COUNTRIES", default=None)
VERIFICATION_CHANNELS = env.list("VERIFICATION_CHANNELS", default=["sms"])
VERIFICATION_CLIENT_IP_HEADER = env.str("VERIFICATION_CLIENT_IP_HEADER", default=None)
VERIFICATION_IPV6_PREFIX = env.int("VERIFICATION_IPV6_PREFIX", default=64)
VERIFICATION_ALLOW_VOIP = env.bool("VERIFICATION_ALLOW_VOIP", default=False)
VERIFICATION_ALLOW_INTERNATIONAL_NETWORKS = env.bool("VERIFICATION_ALLOW_INTERNATIONAL_NETWORKS", default=False)
# Toll-fraud circuit breakers, on by default, sized for a small site whose users are at home in Britain:
# 60 codes an hour to British numbers (a busy evening's logins, several times over), 5 to each other
# region (a traveller's, not a pumping run's), 80 for the whole site. Each keeps a fifth for numbers
# their users already verified, so a pumping run stops new numbers first. An empty value turns the
# per-region budgets off.
VERIFICATION_COUNTRY_SEND_LIMITS = _region_limits(env.str("VERIFICATION_COUNTRY_SEND_LIMITS", default="GB=60,*=5"))
VERIFICATION_COUNTRY_SEND_WINDOW = env.int("VERIFICATION_COUNTRY_SEND_WINDOW", default=3600)
VERIFICATION_GLOBAL_SEND_LIMIT = env.int("VERIFICATION_GLOBAL_SEND_LIMIT", default=80) or None
VERIFICATION_GLOBAL_SEND_WINDOW = env.int("VERIFICATION_GLOBAL_SEND_WINDOW", default=3600)
VERIFICATION_BREAKER_RESERVE = env.float("VERIFICATION_BREAKER_RESERVE", default=0.2)
# One number, one account; what strangers can make a phone receive; when the guessing stops.
VERIFICATION_NUMBER_SHARING = env.bool("VERIFICATION_NUMBER_SHARING", default=False)
VERIFICATION_FOREIGN_SEND_LIMIT = env.int("VERIFICATION_FOREIGN_SEND_LIMIT", default=10)
VERIFICATION_FOREIGN_SEND_WINDOW = env.int("VERIFICATION_FOREIGN_SEND_WINDOW", default=86400)
VERIFICATION_FAILED_CHALLENGE_LIMIT = env.int("VERIFICATION_FAILED_CHALLENGE_LIMIT", default=10) or None
VERIFICATION_FAILED_CHALLENGE_WINDOW = env.int("VERIFICATION_FAILED_CHALLENGE_WINDOW", default=86400)

VONAGE_API_KEY = env.str("VONAGE_API_KEY", default="")
VONAGE_API_SECRET = env.str("VONAGE_API_SECRET", default="")
VONAGE_APPLICATION_ID = env.str("VONAGE_APPLICATION_ID", default="")
VONAGE_PRIVATE_KEY = env.str("VONAGE_PRIVATE_KEY", default="", multiline=True)
VONAGE_TIMEOUT = env.float("VONAGE_TIMEOUT", default=10.0)
VONAGE_CHANNEL_TIMEOUT = env.int("VONAGE_CHANNEL_TIMEOUT", default=300)
VONAGE_WHATSAPP_FROM = env.str("VONAGE_WHATSAPP_FROM", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The Vonage SDK writes codes and full numbers at DEBUG: never let them through.
        "vonage": {"level": "WARNING"},
        "vonage_http_client": {"level": "WARNING"},
    },
}
