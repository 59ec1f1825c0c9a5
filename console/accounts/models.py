from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import PlatformRole


class User(AbstractUser):
    """A console user. Platform roles live here; tenant roles come from tenant memberships."""

    platform_role = models.CharField(
        _("platform role"), max_length=16, choices=PlatformRole.choices, blank=True, default=PlatformRole.NONE
    )
    # The language the user last used the console in: pushes and notifications use it.
    language = models.CharField(_("language"), max_length=16, blank=True)
    # Set when someone else chose the password (a generated one-time password): the user
    # must choose their own before using the console, so the one-time one stops working.
    must_change_password = models.BooleanField(_("must change password"), default=False)

    @property
    def is_operator(self):
        return self.is_active and self.platform_role == PlatformRole.OPERATOR

    @property
    def is_auditor(self):
        return self.is_active and self.platform_role == PlatformRole.AUDITOR
