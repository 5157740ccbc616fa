"""Phone verification (a second factor) enforced by settings rules, for Django."""

__version__ = "0.2.0.dev0"
