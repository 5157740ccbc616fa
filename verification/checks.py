"""System checks for the verification settings: `verification.E0xx` errors, `verification.W0xx` warnings.

Ids are never reused for another meaning.
"""

from __future__ import annotations
