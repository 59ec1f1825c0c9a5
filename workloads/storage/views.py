"""Storage pages. Thin: look the namespace, volume or node up through tenants.access (404 for
what the user may not see), call a service, render. Ceph is never called here: the Storage
page shows the last reading a worker took (tasks.refresh_ceph_state)."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.accounts import roles
from console.accounts.access import require
from console.ceph import config as ceph_config
from console.ceph.errors import CephNotConfigured
from console.jobs.models import Job
from console.views.generic import ServiceFormView
from console.views.htmx import is_partial
from tenants import access
from workloads.views import operable_project

from . import forms, live, services
from .choices import BackupMethod, BackupStatus
from .models import Backup, BackupPolicy, CephState, Volume

signed_in = require()
SECTION = {"active_section": "storage"}
STALE = timedelta(seconds=60)


def visible_volumes(user):
    return Volume.objects.filter(project__in=access.visible_projects(user))


def get_volume(user, tenant, namespace, name):
    return access.get_in_namespace(user, tenant, namespace, Volume, name)


def get_node(user, tenant, namespace, name, pk):
    volume = get_volume(user, tenant, namespace, name)
    node = Backup.objects.filter(volume=volume, pk=pk).select_related("parent").first()
    if node is None:
        raise Http404("no such backup")
    node.volume = volume
    return node


def volume_url(volume):
    return reverse("storage:volume", args=[volume.project.tenant.name, volume.namespace, volume.name])


def stored_state():
    """The last reading a worker took (Ceph, and which clusters serve the snapshot API); a
    fresh one is asked for when it is old."""
    state = CephState.objects.filter(pk=1).first()
    if state is None or state.taken_at is None or timezone.now() - state.taken_at > STALE:
        from .tasks import refresh_ceph_state

        transaction.on_commit(refresh_ceph_state.delay)
    return state


def ceph_context(user, state):
    """What operators read about Ceph: whether it is configured, and its last reading."""
    try:
        ceph_config.from_settings()
    except CephNotConfigured as exc:
        return {"ceph_configured": False, "ceph_problem": str(exc)}
    return {"ceph_configured": True, "ceph_state": state}


def backup_method_of(cluster, state):
    """How volumes on the cluster are backed up now: "rbd" (the console reaches Ceph), "csi"
    (the cluster serves the snapshot API), "" (neither) or None (not known yet)."""
    if ceph_config.is_configured():
        return BackupMethod.RBD
    served = ((state.data if state else {}).get("snapshot_api") or {}).get(cluster.name)
    return None if served is None else (BackupMethod.CSI if served else "")


def backup_methods(projects, state):
    clusters = {project.cluster.pk: project.cluster for project in projects}
    return [
        {"cluster": cluster, "method": backup_method_of(cluster, state)}
        for cluster in sorted(clusters.values(), key=lambda c: c.name)
    ]


@require_GET
@signed_in
def volume_list(request):
    if not access.may_see_all(request.user) and not roles.memberships(request.user):
        raise PermissionDenied(_("You belong to no tenant."))
    volumes = (
        visible_volumes(request.user)
        .select_related("project__tenant", "project__cluster")
        .annotate(nodes=Count("backups", filter=Q(backups__status=BackupStatus.SUCCEEDED)))
    )
    usage = (
        visible_volumes(request.user)
        .values("project__tenant__name")
        .annotate(count=Count("pk", distinct=True), provisioned=Sum("size_bytes"))
        .order_by("project__tenant__name")
    )
    backup_bytes = dict(
        Backup.objects.filter(volume__in=visible_volumes(request.user), status=BackupStatus.SUCCEEDED)
        .values_list("volume__project__tenant__name")
        .annotate(total=Sum("size_bytes"))
    )
    visible = list(
        access.visible_projects(request.user).select_related("tenant", "cluster").order_by("tenant__name", "name")
    )
    projects = [project for project in visible if access.may_operate(request.user, project.tenant)]
    state = stored_state()
    context = {
        **SECTION,
        "volumes": volumes,
        "projects": projects,
        "usage": [{**row, "backups": backup_bytes.get(row["project__tenant__name"], 0)} for row in usage],
        "backup_methods": backup_methods(visible, state),
    }
    if roles.is_operator(request.user) or roles.is_auditor(request.user):
        context.update(ceph_context(request.user, state), show_ceph=True)
    return render(request, "storage/volume_list.html", context)


class VolumeAddView(ServiceFormView):
    http_method_names = ["get", "post"]
    service = services.create_volume
    form_class = forms.VolumeForm
    template_name = "storage/volume_form.html"
    success_message = gettext_lazy("Creating volume %(name)s.")

    def get_object(self):
        return operable_project(
            self.request,
            self.kwargs["tenant"],
            self.kwargs["namespace"],
            _("Only the tenant's members and operators create volumes."),
        )

    def get_context_data(self, **extra):
        return {**SECTION, "project": self.object, "tenant": self.object.tenant, **extra}

    def message_params(self, result):
        return {"name": result[0].name}

    def get_success_url(self, result):
        return volume_url(result[0])


volume_add = VolumeAddView.as_view()


def volume_context(request, volume, **extra):
    may_change = access.may_operate(request.user, volume.project.tenant) and volume.project.tenant.is_active
    jobs = Job.objects.filter(
        tenant_id=volume.project.tenant_id, namespace=volume.namespace, payload__volume=volume.pk
    ).order_by("-created_at")[:5]
    policy = BackupPolicy.objects.filter(volume=volume).first()
    initial = (
        {"at": policy.at, "weekday": policy.weekday, "keep_daily": policy.keep_daily, "keep_weekly": policy.keep_weekly}
        if policy
        else {}
    )
    return {
        **SECTION,
        **live.chain_context(volume, may_change=may_change),
        "backup_method": backup_method_of(volume.project.cluster, stored_state()),
        "project": volume.project,
        "tenant": volume.project.tenant,
        "jobs": jobs,
        "resize_form": forms.ResizeForm(),
        "delete_form": forms.VolumeDeleteForm(),
        "policy": policy,
        "policy_form": forms.BackupPolicyForm(initial=initial),
        "live_groups": [volume.group],
        **extra,
    }


@require_GET
@signed_in
def volume_detail(request, tenant, namespace, name):
    volume = get_volume(request.user, tenant, namespace, name)
    context = volume_context(request, volume)
    if is_partial(request):
        return render(request, "storage/_chain.html", context)
    return render(request, "storage/volume.html", context)


class VolumeActionView(ServiceFormView):
    """An action on a volume from its page: back to the page, or the page again with the
    refusal said at the top."""

    template_name = "storage/volume.html"
    errors_as_message = True

    def get_object(self):
        return get_volume(self.request.user, self.kwargs["tenant"], self.kwargs["namespace"], self.kwargs["name"])

    def volume(self):
        return self.object

    def get_context_data(self, **extra):
        return volume_context(self.request, self.volume(), **extra)

    def message_params(self, result):
        return {"name": self.volume().name}

    def get_success_url(self, result):
        return volume_url(self.volume())


class NodeActionView(VolumeActionView):
    def get_object(self):
        return get_node(
            self.request.user, self.kwargs["tenant"], self.kwargs["namespace"], self.kwargs["name"], self.kwargs["pk"]
        )

    def volume(self):
        return self.object.volume

    def message_params(self, result):
        return {"name": self.volume().name, "node": str(self.object)}


class RestoreView(NodeActionView):
    def get_success_url(self, result):
        return volume_url(result[0])

    def message_params(self, result):
        return {"name": result[0].name, "node": str(self.object)}


volume_resize = VolumeActionView.as_view(
    service=services.resize_volume,
    form_class=forms.ResizeForm,
    form_name="resize_form",
    invalid_message=gettext_lazy("Give the new size, e.g. 20Gi."),
    success_message=gettext_lazy("Growing %(name)s."),
)
volume_delete = VolumeActionView.as_view(
    service=services.delete_volume,
    form_class=forms.VolumeDeleteForm,
    form_name="delete_form",
    strict_form=False,
    success_message=gettext_lazy("Deleting %(name)s."),
    success_url="storage:volume_list",
)
backup_add = VolumeActionView.as_view(
    service=services.create_backup, success_message=gettext_lazy("Backing up %(name)s.")
)
backup_rollback = NodeActionView.as_view(
    service=services.rollback_backup,
    form_class=forms.RollbackForm,
    form_name="rollback_form",
    invalid_message=gettext_lazy("Tick the confirmation to roll back."),
    success_message=gettext_lazy("Rolling %(name)s back to backup %(node)s."),
)
backup_restore = RestoreView.as_view(
    service=services.restore_backup,
    form_class=forms.RestoreForm,
    form_name="restore_form",
    invalid_message=gettext_lazy("Name the new volume."),
    success_message=gettext_lazy("Restoring backup %(node)s into the new volume %(name)s."),
)
backup_delete = NodeActionView.as_view(
    service=services.delete_backup,
    form_class=forms.ConfirmForm,
    invalid_message=gettext_lazy("Tick the confirmation to delete the backup."),
    success_message=gettext_lazy("Deleting backup %(node)s of %(name)s."),
)
backup_consolidate = NodeActionView.as_view(
    service=services.consolidate_backup,
    form_class=forms.ConfirmForm,
    invalid_message=gettext_lazy("Tick the confirmation to consolidate the chain."),
    success_message=gettext_lazy("Merging backup %(node)s of %(name)s into the backups that continue it."),
)
backup_policy = VolumeActionView.as_view(
    service=services.set_backup_policy,
    form_class=forms.BackupPolicyForm,
    form_name="policy_form",
    invalid_message=gettext_lazy("Give the time of day (HH:MM) and how many daily and weekly backups to keep."),
    success_message=gettext_lazy("Scheduled backups of %(name)s are set."),
)
backup_policy_remove = VolumeActionView.as_view(
    service=services.remove_backup_policy,
    success_message=gettext_lazy("Scheduled backups of %(name)s are stopped."),
)


def app_panel(request, app):
    """The app page's Volumes panel (console.object_panels): a StatefulSet's claims, each with its
    backup chain's page; None for an app without persistent volumes."""
    if app.kind != "StatefulSet" or not (app.spec or {}).get("volumes"):
        return None
    volumes = services.adopt_app_volumes(app)
    counts = dict(
        Backup.objects.filter(volume__in=volumes, status=BackupStatus.SUCCEEDED)
        .values_list("volume")
        .annotate(n=Count("pk"))
    )
    for volume in volumes:
        volume.nodes = counts.get(volume.pk, 0)
    return {"volumes": volumes, "templates": app.spec["volumes"]}
