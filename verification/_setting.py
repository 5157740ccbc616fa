"""The `Setting` descriptor that `verification.conf` declares every setting with (internal)."""

from __future__ import annotations

from typing import Generic, TypeVar, overload

from django.conf import settings as django_settings

from verification.validators import Validator

__all__ = ["TYPE_CHECK_ID", "Setting"]

T = TypeVar("T")

#: Settings of the Vonage backends keep their own prefix; every other one is `VERIFICATION_<attribute>`.
_OWN_PREFIXES = ("VONAGE_",)
#: The check that reports a setting of the wrong type, for settings without a validator of their own.
TYPE_CHECK_ID = "E037"


class Setting(Generic[T]):
    """One setting: its default, its one-line meaning, and how the system checks validate it.

    `valid` tells a good value from a bad one, reported with `check_id` and a hint saying the value must
    be `expected`. Without `valid`, a value must have its default's type (check E037). `checked_by`
    names the checks that validate a setting elsewhere (the rules, the backend): then `valid` is unused.
    """

    name: str

    def __init__(
        self,
        default: T,
        meaning: str,
        *,
        valid: Validator | None = None,
        check_id: str = TYPE_CHECK_ID,
        expected: str = "",
        checked_by: str = "",
    ) -> None:
        self.default = default
        self.meaning = meaning
        self.valid = valid
        self.check_id = check_id
        self.expected = expected
        self.checked_by = checked_by

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.name = attribute if attribute.startswith(_OWN_PREFIXES) else f"VERIFICATION_{attribute}"

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> T | Setting[T]:
        if instance is None:
            return self
        return getattr(django_settings, self.name, self.default)

    def is_valid(self, value: object) -> bool:
        """Tell whether `value` passes this setting's own check (its type, without a validator)."""
        if self.valid is not None:
            return self.valid(value)
        return self.default is None or isinstance(value, type(self.default))

    @property
    def check_ids(self) -> str:
        """The checks that report a bad value: "E016", or those of `checked_by`."""
        return self.checked_by or self.check_id
