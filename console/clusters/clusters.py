"""Cluster registry: add a cluster by kubeconfig (validated by connecting), refresh its
status, remove it. Credentials are encrypted at rest and never shown again."""

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.utils import timezone
from django.utils.translation import gettext as _

from console import crypto
from console.accounts import roles
from console.choices import ClusterStatus, NotificationLevel, OperationResult, PlatformRole
from console.clusters import permissions
from console.clusters.models import Cluster
from console.kube import config
from console.kube.api import ClusterAPI
from console.kube.errors import ClusterError
from console.kube.probe import probe_cluster
from console.oplog import oplog
from console.texts import message

UNREACHABLE = message("Cluster %(name)s is unreachable")


def connect(kubeconfig_text, context=None):
    """Parse and probe a kubeconfig; returns (data, probe) or raises ClusterError."""
    if (
        len(kubeconfig_text.encode("utf-8", "surrogatepass")) > config.MAX_KUBECONFIG_BYTES
    ):  # a lone surrogate is the parser's to refuse
        raise ClusterError("malformed", _("larger than 256 KiB"))
    data = config.parse_kubeconfig(kubeconfig_text)
    context = config.resolve_context(data, context or None)
    config.server_of(data, context)  # a context without a (https) server is refused before any connection
    return data, probe_cluster(data, context)


def skips_tls_verify(cluster):
    """Whether the cluster's kubeconfig turns certificate checks off (shown as a warning)."""
    try:
        return config.skips_tls_verify(
            config.parse_kubeconfig(crypto.decrypt(cluster.kubeconfig_encrypted)), cluster.context
        )
    except (ClusterError, crypto.InvalidToken):
        return False


def register_cluster(*, acting_user, name, kubeconfig_text, context="", region="", description="", add_anyway=False):
    """Add a cluster the console can reach. One whose credentials lack what the console needs
    is refused with the list, unless the operator adds it anyway, for read-only use."""
    if not roles.is_operator(acting_user):
        raise PermissionError(_("Only operators add clusters."))
    target = {"cluster": name, "kind": "Cluster", "name": name}
    payload = {"region": region, "description": description, "context": context, "add_anyway": bool(add_anyway)}
    with oplog.recorded(acting_user, "cluster.register", target=target, payload=payload) as outcome:
        validate_slug(name)
        if Cluster.objects.filter(name=name).exists():
            raise ValidationError(_("A cluster named %(name)s exists already.") % {"name": name})
        try:
            data, probe = connect(kubeconfig_text, context)
        except ClusterError as exc:
            raise ValidationError(str(exc), code=exc.reason) from None
        if config.skips_tls_verify(data, probe.context):
            outcome.payload["insecure_skip_tls_verify"] = True  # the log keeps who accepted an unverified server
        cluster = Cluster(
            name=name,
            region=region,
            description=description,
            kubeconfig_encrypted=crypto.encrypt(kubeconfig_text),
            created_by=acting_user,
        )
        apply_probe(cluster, probe)
        try:
            check_permissions(cluster)
        except ClusterError as exc:
            raise ValidationError(str(exc), code=exc.reason) from None
        if cluster.permissions_missing:
            outcome.payload["permissions_missing"] = [m["text"] for m in cluster.permissions_missing]
            if not add_anyway:
                raise ValidationError(
                    missing_message(cluster)
                    + " "
                    + _('Grant them and try again, or tick "Add anyway (read-only use)".'),
                    code="permissions",
                )
        cluster.save()
        outcome.after = {
            "server": cluster.server,
            "context": cluster.context,
            "version": cluster.version,
            "nodes": len(cluster.nodes),
            "permissions_missing": [m["text"] for m in cluster.permissions_missing],
        }
    return cluster


def check_permissions(cluster):
    """Ask the cluster what the console's identity may not do, and keep the answer."""
    with ClusterAPI(cluster) as api:
        cluster.permissions_missing = permissions.check(api)
    cluster.permissions_checked_at = timezone.now()


def missing_message(cluster):
    """One sentence: what the identity may not do and which features that breaks."""
    report = permissions.report(cluster)
    return _("The console's identity may not: %(missing)s. Without these, this does not work: %(features)s.") % {
        "missing": report["summary"],
        "features": "; ".join(str(label) for label, _consequence in report["features"]),
    }


def apply_probe(cluster, probe):
    cluster.server = probe.server
    cluster.context = probe.context
    cluster.version = probe.version
    cluster.nodes = [asdict(node) for node in probe.nodes]
    cluster.health = [list(check) for check in probe.health]
    healthy = all(ok for _name, ok in probe.health) and all(node.ready for node in probe.nodes)
    cluster.status = ClusterStatus.READY if healthy else ClusterStatus.DEGRADED
    cluster.status_message = ""
    cluster.last_sync_at = timezone.now()


def refresh_cluster(cluster):
    """Probe again and store what was found; notify operators when it stops answering."""
    from console.notifications.notifications import notify_role

    was = cluster.status
    try:
        data = config.parse_kubeconfig(crypto.decrypt(cluster.kubeconfig_encrypted))
        apply_probe(cluster, probe_cluster(data, cluster.context))
        check_permissions(cluster)  # granted or taken away since: the next refresh knows
    except ClusterError as exc:
        cluster.status, cluster.status_message = ClusterStatus.UNREACHABLE, str(exc)
        cluster.last_sync_at = timezone.now()
    cluster.save()
    if cluster.status != was and cluster.status == ClusterStatus.UNREACHABLE:
        notify_role(
            PlatformRole.OPERATOR,
            UNREACHABLE(name=cluster.name),
            body=cluster.status_message,
            level=NotificationLevel.DANGER,
        )
    return cluster


def remove_cluster(cluster_id, *, acting_user, confirm_name):
    if not roles.is_operator(acting_user):
        raise PermissionError(_("Only operators remove clusters."))
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    target = {
        "cluster": cluster.name if cluster else str(cluster_id),
        "kind": "Cluster",
        "name": cluster.name if cluster else str(cluster_id),
    }
    with oplog.recorded(acting_user, "cluster.remove", target=target) as outcome:
        if cluster is None:
            raise ValidationError(_("No such cluster."))
        if confirm_name != cluster.name:
            raise ValidationError(_("Type the cluster's name to confirm."))
        outcome.before = {
            "server": cluster.server,
            "context": cluster.context,
            "region": cluster.region,
            "version": cluster.version,
        }
        cluster.delete()


def attach_embedded_cluster(name, kubeconfig_text, *, description=""):
    """The embedded run's own cluster: its address and credentials change at every start,
    so the row is updated in place and the mirror lists it afresh."""
    from console.clusters.models import WatchCursor

    _data, probe = connect(kubeconfig_text)
    cluster = Cluster.objects.filter(name=name).first() or Cluster(name=name, description=description, region="local")
    cluster.kubeconfig_encrypted = crypto.encrypt(kubeconfig_text)
    apply_probe(cluster, probe)
    check_permissions(cluster)
    cluster.save()
    WatchCursor.objects.filter(cluster=cluster).delete()  # resourceVersions of the last run mean nothing now
    oplog.record(
        None,
        "cluster.attach_embedded",
        actor_name="system",
        result=OperationResult.SUCCEEDED,
        target={"cluster": name, "kind": "Cluster", "name": name},
        after={"server": cluster.server, "version": cluster.version},
    )
    return cluster
