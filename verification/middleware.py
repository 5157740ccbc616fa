"""VerificationRequiredMiddleware (placeholder until the enforcement layer lands)."""

from __future__ import annotations

from django.utils.deprecation import MiddlewareMixin


class VerificationRequiredMiddleware(MiddlewareMixin):
    pass
