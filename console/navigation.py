"""The shell's sections. Feature apps mark theirs built by pointing `url_name` at their
own list page; until then the section's page says plainly that it is not built."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from console.accounts import roles


def signed_in(user):
    return user.is_authenticated


@dataclass
class Section:
    key: str
    label: str
    url_name: str | None  # None: not built yet
    description: str = ""
    # Who may open the section's page: the navigation shows each role only what it may open
    # (the view checks again, on the server).
    may_open: Callable = signed_in

    @property
    def built(self):
        return self.url_name is not None

    @property
    def url(self):
        return reverse(self.url_name) if self.built else reverse("console:section", args=[self.key])


SECTIONS = [
    Section("dashboard", _("Dashboard"), "console:dashboard"),
    Section("clusters", _("Clusters"), "console:cluster_list", _("Cluster registry, nodes and control-plane health."),
            may_open=lambda user: roles.is_operator(user) or roles.is_auditor(user)),
    Section("tenants", _("Tenants"), "tenants:tenant_list", _("Tenants, members, namespaces, quotas and network isolation.")),
    Section("workloads", _("Workloads"), "workloads:app_list", _("Deploy, upgrade, roll back, scale and canary-release applications.")),
    Section("storage", _("Storage"), None, _("Ceph RBD volumes and their backup chains.")),
    Section("monitoring", _("Monitoring"), None, _("Cluster health, metrics, alerts, events, logs and root-cause analysis.")),
    Section("templates", _("Templates"), None, _("Orchestration templates: build, extract, replicate and estimate cost.")),
    Section("pipelines", _("Pipelines"), None, _("CI/CD: webhooks, image builds, quality gates and deployments.")),
    Section("oplog", _("Operation log"), "console:oplog", may_open=roles.can_read_operation_log),
    Section("notifications", _("Notifications"), "console:notification_list"),
]


def visible_sections(user):
    return [s for s in SECTIONS if s.may_open(user)]


def section(key):
    return next((s for s in SECTIONS if s.key == key), None)
