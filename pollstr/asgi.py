"""Pollstr's ASGI application, for an ASGI server: `uvicorn pollstr.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pollstr.settings")

application = get_asgi_application()
