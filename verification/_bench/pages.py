"""The bench's pages: the URLconf held in memory, the views measured and the generated rule sets."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.backends.django import Template
from django.urls import URLPattern, URLResolver, include, path

PUBLIC_PREFIX = "/bench/public/"
PROTECTED_PREFIX = "/bench/protected/"
PROTECTED_URL_NAME = "bench-protected"
# Pollstr's own rules, and the one that protects the page measured.
CASE_RULES: list[str | dict[str, Any]] = ["polls:detail", "polls:results", "polls:vote", PROTECTED_URL_NAME]

PAGE_TEMPLATE = """{% extends "base.html" %}{% load i18n %}
{% block title %}{% blocktranslate %}Page {{ number }}{% endblocktranslate %} · Pollstr{% endblock %}
{% block content %}
  <h1 class="h3 mb-4">{% blocktranslate %}Page {{ number }}{% endblocktranslate %}</h1>
  <ul class="list-group mb-4">
    {% for item in items %}
      <li class="list-group-item"><a href="{% url 'polls:detail' item %}">{% translate "Poll" %} {{ item }}</a></li>
    {% endfor %}
  </ul>
  <p class="text-muted">{% translate "A page of a typical size: the site's layout, a list, a few links." %}</p>
{% endblock %}
"""
PAGE_ITEMS = range(1, 6)


@cache
def _page_template() -> Template:
    template = engines["django"].from_string(PAGE_TEMPLATE)
    assert isinstance(template, Template)
    return template


def page_view(request: HttpRequest, number: int) -> HttpResponse:
    """Render a Pollstr page: the base layout (user menu, messages) around a list of links."""
    return HttpResponse(_page_template().render({"number": number, "items": PAGE_ITEMS}, request))


def minimal_view(request: HttpRequest, number: int) -> HttpResponse:
    """Return a fixed body, touching neither the user nor the session."""
    return HttpResponse(b"<!doctype html><title>Page</title><p>A page.</p>")


VIEWS: dict[str, Callable[[HttpRequest, int], HttpResponse]] = {"page": page_view, "minimal": minimal_view}


class BenchURLconf:
    """A URLconf held in memory: the bench pages, then the site's own URLs (for login, verification...)."""

    def __init__(self, urlpatterns: list[URLPattern | URLResolver]) -> None:
        self.urlpatterns = urlpatterns


def build_urlconf(view_name: str, max_rules: int) -> BenchURLconf:
    """Return the bench URLconf: one public and one protected page, the named filler pages, the site."""
    view = VIEWS[view_name]
    # The same view behind both: the protected one asks for a login, as a protected page would.
    patterns: list[URLPattern | URLResolver] = [
        path(f"{PUBLIC_PREFIX.strip('/')}/<int:number>/", view, name="bench-public"),
        path(f"{PROTECTED_PREFIX.strip('/')}/<int:number>/", login_required(view), name=PROTECTED_URL_NAME),
    ]
    # Name rules name real URLs, as on a real site; the pages measured come first, so these extra
    # patterns cost nothing to resolve them.
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
