"""Pollstr's URLs: the polls at /polls/, Django's auth views at the root, verification at /verify/."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="polls:index", permanent=False)),
    path("polls/", include("polls.urls")),
    path("verify/", include("verification.urls")),
    path("", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
