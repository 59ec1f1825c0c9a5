from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Console")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import dashboard, jobs, mirror, signals  # noqa: F401  (the core's dashboard panels; live groups of jobs and the mirror; sign-in in the operation log)
