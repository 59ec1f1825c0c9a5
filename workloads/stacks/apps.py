from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StacksConfig(AppConfig):
    name = "workloads.stacks"
    label = "stacks"
    verbose_name = _("Templates")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from console import navigation
        from console.jobs import jobs
        from console.live import realtime

        from . import live, tasks
        from .choices import JOB_KINDS

        jobs.register_kind_labels(JOB_KINDS)
        jobs.register(tasks.KINDS)
        # the workloads app's placeholder of the same key is replaced
        navigation.register_section(
            "templates",
            _("Templates"),
            "stacks:template_list",
            _("Orchestration templates: build, extract, replicate and estimate cost."),
            order=70,
        )
        realtime.register_group("stack", live.may_follow, live.snapshot)
        post_migrate.connect(_ship_recommended, sender=self)


def _ship_recommended(**_kwargs):
    from .recommended import sync

    sync()
