"""Reactions of the workloads app to what happens elsewhere in the console."""

from typing import Any

from django.dispatch import receiver

from tenants.models import Project
from tenants.signals import namespace_provisioned

from . import services
from .choices import AppStatus
from .models import App


@receiver(namespace_provisioned)
def restore_apps_of_reprovisioned_namespace(
    sender: Any, project: Project, restore_workloads: bool = False, **kwargs: Any
) -> None:
    """A namespace provisioned again on an emptied cluster gets its apps back; an ordinary
    namespace update leaves alone what people removed with kubectl."""
    if restore_workloads:
        apps = App.objects.filter(project=project).exclude(status=AppStatus.DELETING)
        for app in apps.select_related("project__tenant", "project__cluster"):
            services.restore_app(app)
