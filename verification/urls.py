"""The verification pages, in the `verification` namespace."""

from __future__ import annotations

app_name = "verification"
urlpatterns: list = []
