"""The other site's pages: nothing of Pollstr's."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "site/page.html", {"heading": "Welcome"})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "site/page.html", {"heading": "Your account"})


@login_required
def balance(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"balance": 42})


def signup(request: HttpRequest) -> HttpResponse:
    return render(request, "site/page.html", {"heading": "Sign up"})


def about(request: HttpRequest) -> HttpResponse:
    return render(request, "site/page.html", {"heading": "About"})
