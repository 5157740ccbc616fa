"""Production settings proven on the real parts: `check --deploy`, cookies and static files from gunicorn.

The site runs as documented for production (docs/deployment.md, "Pollstr in production"): DEBUG off, a
real secret key, its host name, behind a TLS-terminating proxy (`USE_X_FORWARDED_PROTO`), a Vonage backend,
static files collected into STATIC_ROOT and served by WhiteNoise from gunicorn, with no development server
anywhere.
"""

from __future__ import annotations

import gzip
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from verification.tests.servers import (
    Browser,
    Gunicorn,
    django_admin,
    gunicorn,
    request,
    run_django_admin,
    server_environment,
)

SETTINGS = "pollstr.settings"
HOST = "pollstr.example.com"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/polls/css/bootstrap\.min\.[0-9a-f]{12}\.css)"')


def production_environment(tmp: Path, **overrides: str) -> dict[str, str]:
    """Return the documented production variables, with a database and STATIC_ROOT under `tmp`."""
    variables = {
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "USE_X_FORWARDED_PROTO": "True",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp / "static"),
        "VERIFICATION_BACKEND": "verification.backends.vonage.VonageVerifyBackend",
        "VONAGE_API_KEY": "deploy-test-key",
        "VONAGE_API_SECRET": "deploy-test-secret",
    }
    variables.update(overrides)
    return server_environment(**variables)


def test_check_deploy_passes_with_the_documented_variables(tmp_path: Path) -> None:
    output = django_admin(
        "check", "--deploy", "--fail-level", "WARNING", settings=SETTINGS, env=production_environment(tmp_path)
    )

    assert "System check identified no issues" in output


@pytest.mark.parametrize("key", ["", "django-insecure-pollstr-demo-key-not-for-production"])
def test_pollstr_refuses_to_start_with_debug_off_and_no_key_of_its_own(tmp_path: Path, key: str) -> None:
    env = production_environment(tmp_path, SECRET_KEY=key)
    if not key:
        del env["SECRET_KEY"]

    result = run_django_admin("check", settings=SETTINGS, env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set, or is the demo's public one" in result.stderr
    assert "set SECRET_KEY in the environment" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "check_id"),
    [
        ("DEBUG", "True", "security.W018"),
        ("SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("SESSION_COOKIE_SECURE", "False", "security.W012"),
    ],
)
def test_check_deploy_fails_when_one_setting_is_left_unsafe(
    tmp_path: Path, variable: str, value: str, check_id: str
) -> None:
    env = production_environment(tmp_path, **{variable: value})

    result = run_django_admin("check", "--deploy", "--fail-level", "WARNING", settings=SETTINGS, env=env)

    assert result.returncode != 0
    assert check_id in result.stderr


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """Collect static files, create the database, and serve the site with gunicorn as in production."""
    tmp = tmp_path_factory.mktemp("production")
    env = production_environment(tmp)
    django_admin("collectstatic", "--noinput", settings=SETTINGS, env=env)
    django_admin("demo", "--no-server", settings=SETTINGS, env=env)
    with gunicorn("pollstr.wsgi:application", env=env, log_path=tmp / "gunicorn.log", workers=2) as server:
        yield server


def https_browser(server: Gunicorn) -> Browser:
    """A client reaching gunicorn as the TLS proxy forwards requests for the site's host name."""
    return Browser(server.url, https=True, host=HOST)


def cookie_attributes(set_cookie: str) -> tuple[str, set[str]]:
    """Split a Set-Cookie header into the cookie's name and its lower-cased attributes (values kept)."""
    name_value, *attributes = (part.strip() for part in set_cookie.split(";"))
    return name_value.split("=", 1)[0], {attribute.lower() for attribute in attributes}


def set_cookie_for(response_headers: list[str], name: str) -> set[str]:
    for header in response_headers:
        cookie_name, attributes = cookie_attributes(header)
        if cookie_name == name:
            return attributes
    raise AssertionError(f"no Set-Cookie for {name!r} in {response_headers!r}")


def test_gunicorn_serves_the_hashed_compressed_stylesheet(production_server: Gunicorn) -> None:
    page = https_browser(production_server).get("/login/")
    assert page.status == 200
    assert page.header("Server", "").startswith("gunicorn")
    stylesheet = STYLESHEET.search(page.text)
    assert stylesheet, "the page does not link the hashed Bootstrap stylesheet"

    response = request(
        production_server.url,
        "GET",
        stylesheet.group(1),
        headers={"Host": HOST, "X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"},
    )

    assert response.status == 200
    assert response.header("Content-Type", "").startswith("text/css")
    assert response.header("Content-Encoding") == "gzip"
    assert "immutable" in response.header("Cache-Control", "")
    assert b"Bootstrap" in gzip.decompress(response.body)[:500]


def test_unhashed_static_name_is_not_served_forever(production_server: Gunicorn) -> None:
    response = request(
        production_server.url,
        "GET",
        "/static/polls/css/bootstrap.min.css",
        headers={"Host": HOST, "X-Forwarded-Proto": "https"},
    )

    assert response.status == 200
    assert "immutable" not in response.header("Cache-Control", "")


def test_plain_http_is_redirected_to_https(production_server: Gunicorn) -> None:
    response = request(production_server.url, "GET", "/polls/", headers={"Host": HOST})

    assert response.status == 301
    assert response.location == f"https://{HOST}/polls/"


def test_an_unknown_host_is_refused(production_server: Gunicorn) -> None:
    response = request(
        production_server.url, "GET", "/polls/", headers={"Host": "evil.example", "X-Forwarded-Proto": "https"}
    )

    assert response.status == 400


def test_https_responses_carry_the_security_headers(production_server: Gunicorn) -> None:
    response = https_browser(production_server).get("/polls/")

    assert response.status == 200
    assert response.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    assert response.header("X-Frame-Options") == "DENY"
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.header("Referrer-Policy") == "same-origin"


def test_errors_show_no_debug_page(production_server: Gunicorn) -> None:
    response = https_browser(production_server).get("/no-such-page/")

    assert response.status == 404
    assert "URLconf" not in response.text
    assert "SECRET_KEY" not in response.text


def test_csrf_and_session_cookies_are_secure_httponly_and_samesite_lax(production_server: Gunicorn) -> None:
    user = https_browser(production_server)
    login_page = user.get("/login/")
    csrf_cookie = set_cookie_for(login_page.header_list("Set-Cookie"), "csrftoken")

    logged_in = user.post("/login/", {"username": "test", "password": "test1234"}, user.csrf_token(login_page))
    session_cookie = set_cookie_for(logged_in.header_list("Set-Cookie"), "sessionid")

    assert logged_in.status == 302
    for attributes in (csrf_cookie, session_cookie):
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
    assert any(attribute.startswith("max-age=") for attribute in session_cookie)
