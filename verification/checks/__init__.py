"""The app's system checks, one module per topic; ids are `verification.E0xx`, `W0xx` and `I0xx` (information).

- `middleware`: the middlewares' places (E001, E002, W011);
- `rules`: the URL rules (E003-E009, E038, W002, W003, W006, I001);
- `backend`: VERIFICATION_BACKEND (E011, E012, E039, E051, E052, W001), then the backend's own checks (the Vonage
  backends: E020-E029, W020-W029);
- `settings`: every setting's value, each with the check id `verification.conf` gives it, and E037,
  E041-E043, W004, W005;
- `templates`: the layout the pages extend (E049, E050, W009);
- `sessions`: the session engine (E054);
- `deploy`: W007 and W010 (with --deploy), W008;
- `numbers`: the numbers on file that today's destination rules refuse (W012; a database check).

Ids are never reused for another meaning. Importing this package registers every check.
"""

from __future__ import annotations

from verification.checks import backend, deploy, middleware, numbers, rules, sessions, settings, templates

__all__ = ["backend", "deploy", "middleware", "numbers", "rules", "sessions", "settings", "templates"]
