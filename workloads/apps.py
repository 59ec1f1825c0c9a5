from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkloadsConfig(AppConfig):
    name = "workloads"
    verbose_name = _("Workloads")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from console import realtime

        from . import live

        realtime.register_group("app", live.may_follow_app, live.snapshot)
