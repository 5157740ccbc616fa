"""The tests' URLconf plus a page that asks caches to keep it, for the protected-page cache tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import cache_control

from verification.tests.urls import urlpatterns as site_patterns


@cache_control(public=True, max_age=600)
def cached(request: HttpRequest) -> HttpResponse:
    return HttpResponse("a page its view says any cache may keep")


urlpatterns = [path("cached/", cached, name="cached"), *site_patterns]
