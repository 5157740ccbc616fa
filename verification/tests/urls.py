"""The URLs of the app's own tests: a small shop whose pages need a verified phone, Django's auth views, the flow.

`shop:detail`, `shop:results` and `shop:vote` stand where a site's protected pages stand (the tests'
`/shop/1/`); `account` is a protected page outside any namespace; `home` is public.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_POST


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"account of {request.user.get_username()}")


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"item {pk}")


def results(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"results of item {pk}")


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"voted for item {pk}")


shop_patterns = (
    [
        path("", home, name="index"),
        path("<int:pk>/", detail, name="detail"),
        path("<int:pk>/results/", results, name="results"),
        path("<int:pk>/vote/", vote, name="vote"),
    ],
    "shop",
)

urlpatterns = [
    path("", home, name="home"),
    path("account/", account, name="account"),
    path("shop/", include(shop_patterns)),
    path("verify/", include("verification.urls")),
    path("", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
