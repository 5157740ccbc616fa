"""Validators of setting values, for `verification.conf` and the checks: each tells a good value from a bad one."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers

from verification.channels import CHANNELS

__all__ = [
    "Validator",
    "is_channel_list",
    "is_non_empty_string",
    "is_positive_number",
    "is_region",
    "is_region_list",
    "is_whole_number",
    "optional",
    "whole_number_between",
]

Validator = Callable[[object], bool]


def is_whole_number(value: object) -> bool:
    """Tell whether `value` is an int (True and False, although ints, are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number_between(low: int, high: int | None = None) -> Validator:
    """Return a validator of whole numbers from `low` to `high` (no upper bound if None)."""

    def valid(value: object) -> bool:
        return is_whole_number(value) and low <= value and (high is None or value <= high)  # type: ignore[operator]

    return valid


def optional(validator: Validator) -> Validator:
    """Return a validator that also accepts None."""

    def valid(value: object) -> bool:
        return value is None or validator(value)

    return valid


def is_region(value: object) -> bool:
    """Tell whether `value` is an ISO 3166 region code that phonenumbers knows, in capitals ("GB")."""
    return isinstance(value, str) and value in phonenumbers.SUPPORTED_REGIONS


def is_channel_list(value: object) -> bool:
    """Tell whether `value` is a non-empty list or tuple of distinct known channel codes."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(channel, str) and channel in CHANNELS for channel in value)
        and len(set(value)) == len(value)
    )


def is_region_list(value: object) -> bool:
    """Tell whether `value` is a non-empty list or tuple of region codes."""
    return isinstance(value, list | tuple) and bool(value) and all(is_region(code) for code in value)


def is_non_empty_string(value: object) -> bool:
    """Tell whether `value` is a string with more than white space."""
    return isinstance(value, str) and bool(value.strip())


def is_positive_number(value: object) -> bool:
    """Tell whether `value` is an int or a float above 0 (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
