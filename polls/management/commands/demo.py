"""Set up and run the Pollstr demo: migrate, load the fixtures once, then start the development server."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from polls.models import Question

FIXTURE = settings.BASE_DIR / "fixtures" / "all.json"
DEMO_USERNAME = "test"
DEMO_PASSWORD = "test1234"  # noqa: S105  (the published demo account)


class Command(BaseCommand):
    help = "Migrate, load the demo polls and user when missing, and start the development server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="Optional port or ipaddr:port.")
        parser.add_argument(
            "--no-server", action="store_true", help="Prepare the database and stop without starting the server."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if self.fixtures_loaded():
            self.stdout.write("Demo data already present; left as it is.")
        else:
            call_command("loaddata", str(FIXTURE), verbosity=0)
            self.stdout.write(self.style.SUCCESS("Loaded the demo polls and the user 'test'."))
        self.stdout.write(
            f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}, open a poll, enter any valid mobile number "
            "(e.g. +447400123456): nothing is sent, the console backend prints the code in this terminal."
        )
        if options["no_server"]:
            return
        call_command("runserver", options["addrport"], use_reloader=False)

    @staticmethod
    def fixtures_loaded() -> bool:
        user_model = get_user_model()
        has_user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: DEMO_USERNAME}).exists()
        return has_user and Question.objects.filter(pk__in=[1, 2, 3]).count() == 3
