import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.choices import PlatformRole

DEMO_USERS = [
    ("operator", PlatformRole.OPERATOR, "Platform operator"),
    ("auditor", PlatformRole.AUDITOR, "Auditor"),
]


class Command(BaseCommand):
    help = "Create the demo users once; their generated passwords are printed only when created."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, role, first_name in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"demo user {username!r} exists (its password was printed when it was created)")
                continue
            password = secrets.token_urlsafe(12)
            User.objects.create_user(username=username, password=password, platform_role=role, first_name=first_name)
            self.stdout.write(self.style.SUCCESS(f"created demo user {username!r} ({role}) with password: {password}"))
