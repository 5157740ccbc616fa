"""The phone-number and code forms (field names `number`, `code`, `next`, and `channel` when there is a choice).

No CSS framework's classes: Django itself marks a field with errors `aria-invalid` and ties it to its
help text and errors (`aria-describedby`), and the templates give those the ids Django names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from verification.channels import label as channel_label
from verification.conf import conf
from verification.exceptions import NumberRefused
from verification.flow import is_well_formed_code
from verification.phone import MAX_INPUT_LENGTH, parse_number

__all__ = ["CodeForm", "PhoneForm", "channel_field"]


class TelInput(forms.TextInput):
    """A text input of type "tel": phone keypads on mobiles."""

    input_type = "tel"


class PhoneForm(forms.Form):
    """A phone number to send a code to, normalised to E.164 in `cleaned_data["number"]`."""

    number = forms.CharField(
        label=_("Mobile phone number"),
        max_length=MAX_INPUT_LENGTH,
        help_text=_("With the country code, for example +44 7400 123456."),
        error_messages={"required": _("Enter your phone number.")},
        widget=TelInput(attrs={"autocomplete": "tel", "autofocus": True}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, channels: Sequence[str] = ("sms",), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if conf.DEFAULT_REGION:
            self.fields["number"].help_text = _("Numbers from abroad start with + and the country code.")
        if len(channels) > 1:
            self.fields["channel"] = channel_field(channels)

    def clean_number(self) -> str:
        try:
            return parse_number(self.cleaned_data["number"])
        except NumberRefused as exc:
            raise ValidationError(exc.user_message, code=exc.reason) from None


def channel_field(codes: Sequence[str]) -> forms.ChoiceField:
    """Return a radio choice between the channels `codes`, the first one preselected."""
    return forms.ChoiceField(
        label=_("Send the code by"),
        choices=[(code, channel_label(code)) for code in codes],
        initial=codes[0],
        widget=forms.RadioSelect,
    )


class CodeForm(forms.Form):
    """The code received: exactly VERIFICATION_CODE_LENGTH ASCII digits, leading zeros kept."""

    code = forms.CharField(
        label=_("Code"),
        # Only plain spaces around the code are forgiven (a paste); any other whitespace is refused.
        strip=False,
        error_messages={"required": _("Enter the code we sent you.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The %(length)s digits we sent you.") % {"length": conf.CODE_LENGTH}

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip(" ")
        if not is_well_formed_code(code):
            raise ValidationError(
                _("Enter the %(length)s digits of the code, without spaces."),
                code="malformed",
                params={"length": conf.CODE_LENGTH},
            )
        return str(code)
