"""Verify backends: pluggable senders and checkers of one-time codes, chosen by `VERIFICATION_BACKEND`."""
