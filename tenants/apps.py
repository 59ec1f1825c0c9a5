from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation
        from console.accounts import roles
        from console.jobs import jobs
        from console.live import realtime

        # signals: receivers connect on import (the embedded cluster's namespaces)
        from . import access, dashboard, demo, permissions, signals, tasks  # noqa: F401
        from .choices import JOB_KINDS

        jobs.register_kind_labels(JOB_KINDS)
        jobs.register(tasks.KINDS)  # its kinds of job: task, runners, hooks
        permissions.register()  # what the console's identity needs on a cluster for this app's features
        dashboard.register()  # its panels on the console's dashboard
        demo.register()  # the demo tenant of `manage.py seed_demo`
        navigation.register_section("tenants", _("Tenants"), "tenants:tenant_list",
                                    _("Tenants, members, namespaces, quotas and network isolation."), order=20)

        roles.register_tenant_provider(access.TenantRoles())
        realtime.register_group("tenant", access.may_follow_tenant)
        realtime.register_group("project", access.may_follow_project, access.project_status_snapshot)
