from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from console.jobs import jobs
        from console.live import realtime
        from console.accounts import roles

        from . import access, dashboard, permissions, signals  # noqa: F401  (signals: the embedded cluster's namespaces)
        from . import tasks  # noqa: F401 (registers its job kinds with the reaper)
        from .choices import JOB_KINDS

        jobs.register_kind_labels(JOB_KINDS)
        permissions.register()  # what the console's identity needs on a cluster for this app's features
        dashboard.register()  # its panels on the console's dashboard

        roles.register_tenant_provider(access.TenantRoles())
        realtime.register_group("tenant", access.may_follow_tenant)
        realtime.register_group("project", access.may_follow_project, access.project_status_snapshot)
