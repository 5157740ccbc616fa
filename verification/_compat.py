"""Names that moved to another module keep importing from the old one, with a DeprecationWarning (internal)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def moved(old_module: str, new_homes: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module `__getattr__` that serves each name of `new_homes` from its new module, warning once per use.

    `new_homes` maps a name to the module it lives in now; any other name is an AttributeError, as usual.
    """

    def __getattr__(name: str) -> Any:
        home = new_homes.get(name)
        if home is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warnings.warn(
            f"{old_module}.{name} moved to {home}.{name}; import it from there.", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(home), name)

    return __getattr__
