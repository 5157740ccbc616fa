"""The bench's pages: the URLconf held in memory, the views measured and the generated rule sets.

The pages measured are the bench's own, rendered by a template engine of its own, so they need nothing
of the site but its MIDDLEWARE and settings: the site's URLconf comes after them, for its login and
verification URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine, Template
from django.urls import URLPattern, URLResolver, include, path

PUBLIC_PREFIX = "/bench/public/"
PROTECTED_PREFIX = "/bench/protected/"
PUBLIC_URL_NAME = "bench-public"
PROTECTED_URL_NAME = "bench-protected"
# Other pages of the bench, protected by name as a site protects a few of its pages.
OTHER_PROTECTED_PAGES = ("account", "orders", "payment")
OTHER_PROTECTED_NAMESPACE = "bench"
# Three name rules on those pages, as a site has, and the one that protects the page measured.
CASE_RULES: list[str | dict[str, Any]] = [
    *(f"{OTHER_PROTECTED_NAMESPACE}:{name}" for name in OTHER_PROTECTED_PAGES),
    PROTECTED_URL_NAME,
]

PAGE_TEMPLATE = """{% load i18n %}{% get_current_language as LANGUAGE_CODE %}<!doctype html>
<html lang="{{ LANGUAGE_CODE }}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% blocktranslate %}Page {{ number }}{% endblocktranslate %}</title>
</head>
<body>
  <header>
    <nav>
      <a href="{% url 'bench-public' 1 %}">{% translate "Home" %}</a>
      <a href="{% url 'section-0' %}">{% translate "Sections" %}</a>
    </nav>
    {% if user.is_authenticated %}
      <p>{% blocktranslate with username=user.get_username %}Logged in as {{ username }}{% endblocktranslate %}</p>
    {% else %}
      <p>{% translate "Not logged in" %}</p>
    {% endif %}
  </header>
  <main id="content">
    <h1>{% blocktranslate %}Page {{ number }}{% endblocktranslate %}</h1>
    <ul>
      {% for item in items %}
        <li><a href="{% url 'bench-public' item %}">{% blocktranslate %}Page {{ item }}{% endblocktranslate %}</a></li>
      {% endfor %}
    </ul>
    <p>{% translate "A page of a typical size: a layout, a list, a few links." %}</p>
  </main>
</body>
</html>
"""
PAGE_ITEMS = range(1, 6)


@cache
def _page_template() -> Template:
    # An engine of the bench's own: the page needs neither the site's TEMPLATES nor its templates.
    engine = Engine(libraries={"i18n": "django.templatetags.i18n"})
    return engine.from_string(PAGE_TEMPLATE)


def page_view(request: HttpRequest, number: int) -> HttpResponse:
    """Render a complete HTML page: a header that shows who is logged in, around a list of links."""
    context = Context({"number": number, "items": PAGE_ITEMS, "user": request.user})
    return HttpResponse(_page_template().render(context))


def minimal_view(request: HttpRequest, number: int) -> HttpResponse:
    """Return a fixed body, touching neither the user nor the session."""
    return HttpResponse(b"<!doctype html><title>Page</title><p>A page.</p>")


VIEWS: dict[str, Callable[[HttpRequest, int], HttpResponse]] = {"page": page_view, "minimal": minimal_view}


def public(view: Callable[[HttpRequest, int], HttpResponse]) -> Callable[[HttpRequest, int], HttpResponse]:
    """Return `view` open to anyone, even on a site whose MIDDLEWARE has LoginRequiredMiddleware."""

    # A wrapper, because login_not_required marks the function it is given, and `view` is shared.
    @wraps(view)
    def public_view(request: HttpRequest, number: int) -> HttpResponse:
        return view(request, number)

    return login_not_required(public_view)


class BenchURLconf:
    """A URLconf held in memory: the bench pages, then the site's own URLs (for login, verification...)."""

    def __init__(self, urlpatterns: list[URLPattern | URLResolver]) -> None:
        self.urlpatterns = urlpatterns


def build_urlconf(view_name: str, max_rules: int) -> BenchURLconf:
    """Return the bench URLconf: the public and protected pages, the named filler pages, then the site."""
    view = VIEWS[view_name]
    # The same view behind both: the protected one asks for a login, as a protected page would.
    patterns: list[URLPattern | URLResolver] = [
        path(f"{PUBLIC_PREFIX.strip('/')}/<int:number>/", public(view), name=PUBLIC_URL_NAME),
        path(f"{PROTECTED_PREFIX.strip('/')}/<int:number>/", login_required(view), name=PROTECTED_URL_NAME),
    ]
    # Rules name real URLs, as on a real site; the pages measured come first, so these extra patterns
    # cost nothing to resolve them.
    other_pages = [
        path(f"{name}/", login_required(minimal_view), kwargs={"number": 0}, name=name)
        for name in OTHER_PROTECTED_PAGES
    ]
    patterns.append(path("bench/", include((other_pages, OTHER_PROTECTED_NAMESPACE))))
    patterns += [
        path(f"section-{i}/", minimal_view, kwargs={"number": i}, name=f"section-{i}") for i in range(max_rules)
    ]
    patterns.append(path("", include(settings.ROOT_URLCONF)))
    return BenchURLconf(patterns)


def filler_rule(index: int) -> str | dict[str, Any]:
    """Return the `index`th rule that protects none of the pages measured: a mix of every rule form."""
    kind = index % 8
    if kind in (0, 4):
        return f"^/section-{index}/"
    if kind in (1, 5):
        return f"section-{index}"
    if kind == 2:
        return f"/archive/{index}/"
    if kind == 3:
        return {"path": f"^/reports/{index}/", "max_age": 3600}
    if kind == 6:
        return f"^/shop/{index}/(?:[0-9]+/)?$"
    return {"name": f"section-{index}", "max_age": 900}


def rule_set(count: int) -> list[str | dict[str, Any]]:
    """Return `count` rules of which only the last one protects the page measured."""
    return [filler_rule(i) for i in range(count - 1)] + [PROTECTED_URL_NAME]
