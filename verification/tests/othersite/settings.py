"""Settings of a site that is not Pollstr: the app's test site with this app's URLs, templates and rules.

Its layout (`site/base.html`) fills a block named `main`, not `content`, and shows no messages; there is
no `base.html`. `OTHERSITE_DATABASE` names its SQLite file when a test runs it in another process.
"""

from __future__ import annotations

import os
from pathlib import Path

from verification.tests.settings import *  # noqa: F403
from verification.tests.settings import INSTALLED_APPS, TEMPLATES

HERE = Path(__file__).resolve().parent

INSTALLED_APPS = [*INSTALLED_APPS, "verification.tests.othersite"]
ROOT_URLCONF = "verification.tests.othersite.urls"
# Its own templates only (its app directory): not the test site's.
TEMPLATES = [{**TEMPLATES[0], "DIRS": []}]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("OTHERSITE_DATABASE", str(HERE / "db.sqlite3")),
    }
}
VERIFICATION_REQUIRED_URLS = ["account"]
