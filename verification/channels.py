"""The delivery channels a code can go by: their codes, and how the pages name them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["CHANNELS", "SMS", "VOICE", "WHATSAPP", "Channel", "label", "noun"]

SMS = "sms"
VOICE = "voice"
WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class Channel:
    """One delivery channel: its `code` (in settings, rows and backends) and its words on the pages."""

    code: str
    #: The choice offered in the phone form: "Text message (SMS)".
    label: StrOrPromise
    #: How a sentence names it: "We sent a code to ... by text message."
    noun: StrOrPromise


#: Every channel the app knows, by code; VERIFICATION_CHANNELS and each backend's `channels` pick from it.
CHANNELS: dict[str, Channel] = {
    channel.code: channel
    for channel in (
        Channel(SMS, _("Text message (SMS)"), _("text message")),
        Channel(VOICE, _("Voice call"), _("voice call")),
        Channel(WHATSAPP, _("WhatsApp"), _("WhatsApp")),
    )
}


def label(code: str) -> StrOrPromise:
    """Return the form label of the channel `code` (the code itself if unknown)."""
    channel = CHANNELS.get(code)
    return channel.label if channel is not None else code


def noun(code: str) -> StrOrPromise:
    """Return how a sentence names the channel `code` (the code itself if unknown)."""
    channel = CHANNELS.get(code)
    return channel.noun if channel is not None else code
