"""mk_* makes one object; create_* composes (AWX style)."""

from django.contrib.auth import get_user_model

PASSWORD = "Correct-Horse-9-Battery"


def mk_user(username, role="", password=PASSWORD, **extra):
    return get_user_model().objects.create_user(username=username, password=password, platform_role=role, **extra)


def signed_in_client(client, user):
    client.force_login(user)
    return client
