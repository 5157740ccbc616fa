"""The other site's URLs: a home page, an account page and a JSON view, Django's auth views, verification."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from verification.tests.othersite import views

urlpatterns = [
    path("", views.home, name="home"),
    path("account/", views.account, name="account"),
    path("api/balance/", views.balance, name="balance"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("verify/", include("verification.urls")),
    path("admin/", admin.site.urls),
    # The pages the catch-all example of docs/rules.md exempts by name ("signup") and by path ("^/about/").
    path("signup/", views.signup, name="signup"),
    path("about/", views.about, name="about"),
]
