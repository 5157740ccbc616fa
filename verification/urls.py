"""The verification pages, in the `verification` namespace."""

from __future__ import annotations

from django.urls import path

from verification import views

__all__ = ["app_name", "urlpatterns"]

app_name = "verification"
urlpatterns = [
    path("", views.phone, name="phone"),
    path("send/", views.send, name="send"),
    path("confirm/", views.confirm, name="confirm"),
    path("resend/", views.resend, name="resend"),
    path("cancel/", views.cancel, name="cancel"),
]
