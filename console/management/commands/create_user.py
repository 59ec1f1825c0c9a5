"""Create a console user from the shell: how a production install gets its first operator."""

import secrets
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from console.choices import OperationResult, PlatformRole
from console.oplog import oplog

ROLES = {"operator": PlatformRole.OPERATOR, "auditor": PlatformRole.AUDITOR, "none": PlatformRole.NONE}


class Command(BaseCommand):
    help = (
        "Create a user with a platform role. The password is read from standard input with "
        "--password-stdin, otherwise generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=sorted(ROLES), required=True)
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    def handle(self, *args, username, role, password_stdin, **options):
        User = get_user_model()
        user = User(username=username, platform_role=ROLES[role])
        generated = not password_stdin
        password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\n")
        try:
            user.full_clean(exclude=["password"])
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        user.set_password(password)
        user.must_change_password = generated  # a printed password is one-time: changed at first sign-in
        user.save()
        oplog.record(
            None,
            "account.create",
            actor_name="system",
            result=OperationResult.SUCCEEDED,
            target={"kind": "User", "name": username},
            after={"platform_role": user.platform_role},
            payload={"via": "manage.py create_user"},
        )
        shown = f" with password: {password}" if generated else ""
        self.stdout.write(self.style.SUCCESS(f"created user {username!r} ({role}){shown}"))
