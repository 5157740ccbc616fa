"""System checks of VERIFICATION_BACKEND.

- E011 VERIFICATION_BACKEND cannot be imported.
- E053 VERIFICATION_BACKEND is a backend whose SDK comes with an extra of the package, not installed.
- E012 VERIFICATION_BACKEND is not a BaseVerifyBackend subclass.
- E039 the backend can deliver none of VERIFICATION_CHANNELS.
- E051 a backend that needs VERIFICATION_BRAND (every provider) without one.
- E052 the console backend while DEBUG is False: it writes every code into the server's output (unless
  VERIFICATION_CONSOLE_BACKEND_ALLOWED says that is intended).
- W001 the locmem backend (or the console backend, allowed) while DEBUG is False: no code reaches a phone.

The backend class adds its own checks (`check_configuration()`); E020-E029 and W020-W029 belong to
the Vonage backends (`verification.backends.vonage.checks`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from verification.conf import conf
from verification.validators import is_channel_list

__all__ = ["check_backend"]

#: Modules of backends that never reach a phone.
LOCAL_BACKEND_MODULES = frozenset({"verification.backends.console", "verification.backends.locmem"})
#: The module of the backend that writes codes to standard output, where servers log it.
CONSOLE_BACKEND_MODULE = "verification.backends.console"
#: Backends whose provider SDK is an extra of the package: their module, and the extra that installs it.
BACKEND_EXTRAS = {"verification.backends.vonage": "vonage"}
#: The distribution name, for the hint.
DISTRIBUTION = "django-phone-verification"


@register(Tags.security, "verification")
def check_backend(**kwargs: Any) -> list[CheckMessage]:
    """E011, E012, E039, E051, E052, E053, W001 and the backend's own checks."""
    from verification.backends.base import BaseVerifyBackend

    path = conf.BACKEND
    try:
        backend_class = import_string(path)
    except ImportError as error:
        missing = _missing_extra(path, error)
        if missing is not None:
            return [missing]
        return [_not_importable(path, error)]
    except (ValueError, TypeError, AttributeError) as error:
        return [_not_importable(path, error)]
    if not isinstance(backend_class, type) or not issubclass(backend_class, BaseVerifyBackend):
        return [
            Error(
                f"VERIFICATION_BACKEND {path!r} is not a Verify backend.",
                hint="Point it at a subclass of verification.backends.base.BaseVerifyBackend.",
                id="verification.E012",
            )
        ]
    messages = _check_local_backend(path, backend_class)
    if backend_class.needs_brand and conf.BRAND is None:
        messages.append(
            Error(
                f"VERIFICATION_BRAND is not set, and {backend_class.__name__} puts it in every message it sends.",
                hint="Set VERIFICATION_BRAND to your site's name as people know it, such as 'Example Shop'.",
                id="verification.E051",
            )
        )
    channels = conf.CHANNELS
    if is_channel_list(channels) and not set(channels) & set(backend_class.channels):
        messages.append(
            Error(
                f"VERIFICATION_BACKEND {path!r} can deliver none of VERIFICATION_CHANNELS {list(channels)!r}.",
                hint=f"Use a channel it offers: {', '.join(backend_class.channels)}.",
                id="verification.E039",
            )
        )
    messages += backend_class.check_configuration()
    return messages


def _check_local_backend(path: str, backend_class: type) -> list[CheckMessage]:
    """E052 and W001: a backend that reaches no phone, while DEBUG is False."""
    modules = {klass.__module__ for klass in backend_class.__mro__}
    if settings.DEBUG or not modules & LOCAL_BACKEND_MODULES:
        return []
    if CONSOLE_BACKEND_MODULE in modules and conf.CONSOLE_BACKEND_ALLOWED is not True:
        return [
            Error(
                f"VERIFICATION_BACKEND is {path!r} while DEBUG is False: every code is written to the "
                "server's output, where its logs keep it, and no code reaches a phone.",
                hint="Use a provider, such as 'verification.backends.vonage.VonageVerifyBackend'. For a load "
                "test that runs the console backend on purpose, set VERIFICATION_CONSOLE_BACKEND_ALLOWED = True.",
                id="verification.E052",
            )
        ]
    return [
        CheckWarning(
            f"VERIFICATION_BACKEND is {path!r} while DEBUG is False: no code reaches a phone.",
            hint="Use 'verification.backends.vonage.VonageVerifyBackend' in production.",
            id="verification.W001",
        )
    ]


def _not_importable(path: str, error: Exception) -> CheckMessage:
    return Error(
        f"VERIFICATION_BACKEND {path!r} cannot be imported: {error}.",
        hint="Use a dotted path such as 'verification.backends.vonage.VonageVerifyBackend'.",
        id="verification.E011",
    )


def _missing_extra(path: str, error: ImportError) -> CheckMessage | None:
    """E053 when `path` is a backend of the package whose SDK (an extra) is not installed; else None."""
    module = (error.name or "").split(".")[0]
    for backend_module, extra in BACKEND_EXTRAS.items():
        of_backend = path == backend_module or path.startswith(backend_module + ".")
        if of_backend and module and module != "verification":
            return Error(
                f"VERIFICATION_BACKEND {path!r} needs the {extra.title()} SDK, which is not installed "
                f"(no module named {module!r}).",
                hint=f'Install the package with its extra: pip install "{DISTRIBUTION}[{extra}]".',
                id="verification.E053",
            )
    return None
