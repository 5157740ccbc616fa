"""Pollstr's WSGI application, for gunicorn: `gunicorn pollstr.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pollstr.settings")

application = get_wsgi_application()
