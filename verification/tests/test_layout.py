"""The flow's pages on any site: under the standalone layout, and a site layout through a bridge.

Each page of the flow is rendered through the real views, read with a parser (`html_check`), and must
sit inside the layout it was given; the flow's feedback is shown in its own pages exactly once, and
the flow works without `django.contrib.messages`. The demo's own layout is tested with the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse

from verification.models import VerifiedNumber
from verification.testing import latest_code
from verification.tests import othersite
from verification.tests.html_check import parse, problems

pytestmark = pytest.mark.django_db

OTHERSITE = Path(othersite.__file__).resolve().parent
NUMBER = "+447400123456"
MASKED = "+44 •••• ••3456"
NEXT = "/account/"


@dataclass(frozen=True)
class Layout:
    """A way of fitting the pages into a site: the settings, and where the page's own <h1> must end up."""

    name: str
    settings: dict[str, Any]
    #: The element (tag, attribute, value) the flow's page must sit in.
    container: tuple[str, str, str]


def _templates(*directories: Path) -> list[dict[str, Any]]:
    from django.conf import settings

    engine = dict(settings.TEMPLATES[0])
    engine["DIRS"] = [str(directory) for directory in directories]
    return [engine]


OTHERSITE_SETTINGS = {
    "ROOT_URLCONF": "verification.tests.othersite.urls",
    "LOGIN_URL": "login",
    "LOGIN_REDIRECT_URL": "/",
}
LAYOUTS = [
    Layout(
        "standalone",
        {**OTHERSITE_SETTINGS, "VERIFICATION_BASE_TEMPLATE": "verification/layout.html"},
        ("main", "class", "verification-main"),
    ),
    Layout(
        "bridge",
        {**OTHERSITE_SETTINGS, "VERIFICATION_BASE_TEMPLATE": "site/verification_bridge.html", "TEMPLATES": "othersite"},
        ("main", "id", "site-main"),
    ),
]


def apply(settings: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "TEMPLATES":
            value = _templates(OTHERSITE / "templates")
        setattr(settings, name, value)


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def alice(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def page_of(response: Any, container: tuple[str, str, str]) -> str:
    """Return the flow page's <h1> text, checking the page is well formed and sits inside `container`."""
    html = response.content.decode()
    assert problems(html) == []
    tag, attribute, value = container
    elements = parse(html).root.iter()
    (h1,) = [element for element in elements if element.tag == "h1"]
    assert any(
        ancestor.tag == tag and value in ancestor.attrs.get(attribute, "").split() for ancestor in h1.ancestors()
    ), f"the page's <h1> is not inside <{tag} {attribute}={value!r}>"
    # No CSS framework's classes: the page (from the element around its <h1>) has only the app's own.
    assert h1.parent is not None
    foreign = {name for element in h1.parent.iter() for name in element.classes if not name.startswith("verification")}
    assert foreign == set()
    return h1.text


def notice_count(response: Any, text: str) -> int:
    return response.content.decode().count(text)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_the_whole_flow_renders_inside_the_layout(alice: Client, settings: Any, user: Any, layout: Layout) -> None:
    apply(settings, layout.settings)
    settings.VERIFICATION_RESEND_COOLDOWN = 0
    phone, send, confirm = (reverse(f"verification:{name}") for name in ("phone", "send", "confirm"))

    assert page_of(alice.get(phone, {"next": NEXT}), layout.container) == "Verify your phone number"

    refused = alice.post(send, {"number": "hello", "next": NEXT})
    assert refused.status_code == 400
    page_of(refused, layout.container)
    assert "Enter a valid phone number" in refused.content.decode()

    assert alice.post(send, {"number": NUMBER, "next": NEXT}).status_code == 302
    code_page = alice.get(confirm, {"next": NEXT})
    assert page_of(code_page, layout.container) == "Enter your code"
    assert MASKED in code_page.content.decode()

    code = latest_code()
    wrong = alice.post(confirm, {"code": f"{(int(code) + 1) % 10**6:06d}", "next": NEXT})
    assert wrong.status_code == 400
    page_of(wrong, layout.container)
    assert "You can try 4 more times." in wrong.content.decode()
    # The attempts left are said once: by the error, not again by the page's state line.
    assert notice_count(wrong, "4 more times") == 1
    again = alice.get(confirm, {"next": NEXT})
    assert notice_count(again, "You can try 4 more times.") == 1

    resent = alice.post(reverse("verification:resend"), {"next": NEXT})
    assert resent.status_code == 302
    after_resend = alice.get(resent["Location"])
    page_of(after_resend, layout.container)
    assert notice_count(after_resend, f"A new code was sent to {MASKED}.") == 1
    # Shown once, then gone.
    assert notice_count(alice.get(confirm, {"next": NEXT}), "A new code was sent") == 0

    done = alice.post(confirm, {"code": latest_code(), "next": NEXT})
    assert done.status_code == 302
    assert done["Location"] == NEXT
    assert VerifiedNumber.objects.get(user=user).number == NUMBER


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_the_saved_number_page_renders_inside_the_layout(
    alice: Client, settings: Any, user: Any, layout: Layout
) -> None:
    apply(settings, layout.settings)
    settings.VERIFICATION_CHANNELS = ["sms", "voice"]
    VerifiedNumber.objects.create(user=user, number=NUMBER)

    response = alice.get(reverse("verification:phone"), {"next": NEXT})

    assert page_of(response, layout.container) == "Verify your phone number"
    html = response.content.decode()
    assert MASKED in html
    assert 'name="channel"' in html


def test_an_override_of_verification_base_html_still_works(alice: Client, settings: Any, tmp_path: Path) -> None:
    apply(settings, OTHERSITE_SETTINGS)
    override = tmp_path / "verification"
    override.mkdir()
    (override / "base.html").write_text(
        '{% extends "site/base.html" %}{% block main %}{% block content %}{% endblock %}{% endblock %}'
    )
    settings.TEMPLATES = _templates(tmp_path, OTHERSITE / "templates")

    response = alice.get(reverse("verification:phone"))

    assert page_of(response, ("main", "id", "site-main")) == "Verify your phone number"
    assert [m.id for m in run_checks(tags=["templates"]) if m.id and m.id.startswith("verification.")] == [
        "verification.W009"
    ]


#: The admin needs the messages framework, so it goes too.
WITHOUT_MESSAGES = (
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.messages.middleware.MessageMiddleware",
)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_the_flow_works_without_the_messages_framework(
    client: Client, settings: Any, user: Any, layout: Layout
) -> None:
    apply(settings, layout.settings)
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app not in WITHOUT_MESSAGES]
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if path not in WITHOUT_MESSAGES]
    engines = settings.TEMPLATES
    settings.TEMPLATES = [
        {
            **engine,
            "OPTIONS": {
                **engine.get("OPTIONS", {}),
                "context_processors": [
                    processor
                    for processor in engine.get("OPTIONS", {}).get("context_processors", [])
                    if "messages" not in processor
                ],
            },
        }
        for engine in engines
    ]
    settings.VERIFICATION_RESEND_COOLDOWN = 0
    client.force_login(user)

    client.post(reverse("verification:send"), {"number": NUMBER, "next": NEXT})
    cancelled = client.post(reverse("verification:cancel"), {"next": NEXT}, follow=True)
    assert notice_count(cancelled, "The code was cancelled.") == 1
    client.post(reverse("verification:send"), {"number": NUMBER, "next": NEXT})
    done = client.post(reverse("verification:confirm"), {"code": latest_code(), "next": NEXT})

    assert done.status_code == 302
    assert done["Location"] == NEXT
    assert VerifiedNumber.objects.get(user=user).number == NUMBER


ROOT_WITH_BODY = "{% block title %}{% endblock %}{% block body %}{% block content %}{% endblock %}{% endblock %}"


def layout_check_ids() -> list[str]:
    return sorted(m.id for m in run_checks(tags=["templates"]) if m.id and m.id.startswith("verification."))


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        # The standalone default renders `title` and `content`.
        ({}, []),
        ({"layout.html": '{% extends "site/base.html" %}'}, ["verification.E050", "verification.W009"]),
        ({"layout.html": '{% extends "site/verification_bridge.html" %}'}, []),
        ({"layout.html": '{% extends "nowhere.html" %}'}, ["verification.E049"]),
        ({"layout.html": "{% block content %}"}, ["verification.E049"]),
        ({"layout.html": "<title>{% block title %}{% endblock %}</title>{% block content %}{% endblock %}"}, []),
        # `content` inside a block that the child replaces is never rendered...
        (
            {
                "root.html": ROOT_WITH_BODY,
                "layout.html": '{% extends "root.html" %}{% block body %}<p>Our site</p>{% endblock %}',
            },
            ["verification.E050"],
        ),
        # ...unless the child keeps it with {{ block.super }}.
        (
            {
                "root.html": ROOT_WITH_BODY,
                "layout.html": '{% extends "root.html" %}{% block body %}<p>Ours</p>{{ block.super }}{% endblock %}',
            },
            [],
        ),
        # Inside {% if %} or {% for %}, a block is still there.
        (
            {"layout.html": "{% if user %}{% block title %}{% endblock %}{% block content %}{% endblock %}{% endif %}"},
            [],
        ),
    ],
)
def test_the_layout_check_follows_the_chain_as_django_renders_it(
    settings: Any, tmp_path: Path, templates: dict[str, str], expected: list[str]
) -> None:
    for name, text in templates.items():
        (tmp_path / name).write_text(text)
    settings.TEMPLATES = _templates(tmp_path, OTHERSITE / "templates")
    if templates:
        settings.VERIFICATION_BASE_TEMPLATE = "layout.html"

    assert layout_check_ids() == expected


def test_a_missing_layout_is_an_error_with_a_hint(settings: Any) -> None:
    settings.VERIFICATION_BASE_TEMPLATE = "base_site.html"

    (message,) = [m for m in run_checks(tags=["templates"]) if m.id == "verification.E049"]

    assert "'base_site.html'" in message.msg
    assert "VERIFICATION_BASE_TEMPLATE" in message.hint


def test_a_layout_without_content_names_the_blocks_it_has(settings: Any) -> None:
    settings.TEMPLATES = _templates(OTHERSITE / "templates")
    settings.VERIFICATION_BASE_TEMPLATE = "site/base.html"

    (message,) = [m for m in run_checks(tags=["templates"]) if m.id == "verification.E050"]

    assert "head_title, main" in message.hint
    assert "{% block main %}{% block content %}" in message.hint


def test_without_a_layout_setting_a_site_without_base_html_still_renders(alice: Client, settings: Any) -> None:
    apply(settings, OTHERSITE_SETTINGS)
    del settings.VERIFICATION_BASE_TEMPLATE

    response = alice.get(reverse("verification:phone"))

    assert response.status_code == 200
    assert page_of(response, ("main", "class", "verification-main")) == "Verify your phone number"
    assert layout_check_ids() == []
