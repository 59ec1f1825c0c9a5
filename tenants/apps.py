from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation
        from console.accounts import roles
        from console.apps import register_feature_app
        from console.live import realtime

        # signals: receivers connect on import (the embedded cluster's namespaces)
        from . import access, dashboard, demo, permissions, signals, tasks  # noqa: F401
        from .choices import JOB_KINDS

        # its kinds of job; what the console's identity needs on a cluster for this app's features;
        # its panels on the console's dashboard; the demo tenant of `manage.py seed_demo`
        register_feature_app(JOB_KINDS, tasks, permissions, dashboard, demo)
        navigation.register_section(
            "tenants",
            _("Tenants"),
            "tenants:tenant_list",
            _("Tenants, members, namespaces, quotas and network isolation."),
            order=20,
        )

        roles.register_tenant_provider(access.TenantRoles())
        realtime.register_group("tenant", access.may_follow_tenant)
        realtime.register_group("project", access.may_follow_project, access.project_status_snapshot)
