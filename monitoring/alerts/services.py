"""Alert rules and alerts: who sees and manages them, checking a rule, and the actions on
alerts (acknowledge, silence). Operators manage every rule; tenant admins the rules of
their tenant (never cluster-wide ones); members read their tenant's rules and alerts."""

import math
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from console.accounts import roles
from console.accounts.access import require_permission
from console.clusters.models import Cluster
from console.notifications.models import Channel
from console.oplog import oplog
from monitoring.metrics import query
from tenants import access
from tenants.choices import TenantRole
from tenants.models import Project, Tenant

from .choices import CLUSTER_KINDS, AlertState, Comparison, RuleKind, Severity
from .evaluate import LIMIT_OF
from .models import Alert, AlertRule

MAX_FOR_SECONDS = 24 * 3600  # raw samples are kept a day: a longer hold could not be checked
MAX_SILENCE_MINUTES = 7 * 24 * 60
NAMESPACED_LEVELS = ("pod", "workload", "pvc", "namespace")
APP_LEVELS = ("pod", "workload")


# --- who ---------------------------------------------------------------------------------


def admin_tenant_ids(user: Any) -> set[int]:
    return {m.tenant_id for m in roles.memberships(user) if m.role == TenantRole.ADMIN}


def member_tenant_ids(user: Any) -> set[int]:
    return {m.tenant_id for m in roles.memberships(user)}


def may_open(user: Any) -> bool:
    return access.may_see_all(user) or bool(member_tenant_ids(user))


def may_add_rules(user: Any) -> bool:
    return roles.is_operator(user) or bool(admin_tenant_ids(user))


def may_manage(user: Any, tenant_id: int | None) -> bool:
    return roles.is_operator(user) or (tenant_id is not None and tenant_id in admin_tenant_ids(user))


def visible_rules(user: Any) -> QuerySet[AlertRule]:
    if access.may_see_all(user):
        return AlertRule.objects.all()
    return AlertRule.objects.filter(tenant_id__in=member_tenant_ids(user))


def visible_alerts(user: Any, tenant_ids: set[int] | None = None) -> QuerySet[Alert]:
    """Alerts of the user's tenants: their own rules', and the operators' rules' on their
    namespaces (`tenant_ids`: the user's tenants, when the caller has looked them up already)."""
    if access.may_see_all(user):
        return Alert.objects.all()
    return Alert.objects.filter(tenant_id__in=member_tenant_ids(user) if tenant_ids is None else tenant_ids)


# --- checking a rule ---------------------------------------------------------------------


def _scope(user, kind, tenant, cluster, namespace, app):
    if kind in CLUSTER_KINDS:
        require_permission(roles.is_operator(user), _("Only operators watch nodes and control-plane components."))
        if tenant or namespace or app:
            raise ValidationError(
                _("Nodes and control-plane components belong to a cluster: scope this rule to a cluster only.")
            )
        return None, cluster
    if tenant is None:
        require_permission(roles.is_operator(user), _("Tenant admins set rules within their tenant: choose it."))
    else:
        require_permission(may_manage(user, tenant.pk), _("Only operators and the tenant's admins set its rules."))
    if app and not namespace:
        raise ValidationError({"app": _("An app is in a namespace: give the namespace too.")})
    if namespace:
        projects = Project.objects.filter(name=namespace)
        if tenant is not None:
            projects = projects.filter(tenant=tenant)
        if cluster is not None:
            projects = projects.filter(cluster=cluster)
        project = projects.first()
        if project is None:
            if tenant is not None or cluster is None:
                raise ValidationError({"namespace": _("There is no namespace %(name)s here.") % {"name": namespace}})
        else:
            cluster = project.cluster
    return tenant, cluster


def _threshold(kind, metric, comparison, threshold, percent, namespace, app, tenant):
    if kind == RuleKind.VOLUME_FULL:
        metric, comparison, percent = "pvc_used_bytes", Comparison.ABOVE, True
        if threshold is None:
            threshold = 90.0
    if not metric:
        raise ValidationError({"metric": _("Choose the metric to watch.")})
    if metric not in query.METRICS:
        raise ValidationError(
            {
                "metric": _("Unknown metric %(metric)s. Known: %(known)s.")
                % {"metric": metric, "known": ", ".join(sorted(query.METRICS))}
            }
        )
    info = query.METRICS[metric]
    if (namespace or tenant) and info.level not in NAMESPACED_LEVELS:
        raise ValidationError(
            {
                "metric": _(
                    "%(metric)s is measured per %(level)s, not inside a tenant's namespaces: "
                    "only operators watch it, cluster-wide."
                )
                % {"metric": metric, "level": info.level}
            }
        )
    if app and info.level not in APP_LEVELS:
        raise ValidationError({"metric": _("%(metric)s is not measured per app or pod.") % {"metric": metric}})
    if comparison not in Comparison.values:
        raise ValidationError({"comparison": _("Choose above or below.")})
    if threshold is None or not math.isfinite(threshold):
        raise ValidationError({"threshold": _("Give the threshold, a number.")})
    if percent:
        if metric not in LIMIT_OF:
            raise ValidationError(
                {
                    "percent_of_limit": _("%(metric)s has no limit to be a percentage of. These have: %(known)s.")
                    % {"metric": metric, "known": ", ".join(sorted(LIMIT_OF))}
                }
            )
        if not 0 < threshold < 100 if comparison == Comparison.ABOVE else not 0 < threshold <= 100:
            raise ValidationError(
                {
                    "threshold": _(
                        "A percentage of the limit between 0 and 100: usage never goes beyond its limit, nor below 0."
                    )
                }
            )
    elif info.unit == "bool":
        if not 0 <= threshold < 1 if comparison == Comparison.ABOVE else not 0 < threshold <= 1:
            raise ValidationError(
                {"threshold": _("%(metric)s is 1 (yes) or 0 (no): use above 0 or below 1.") % {"metric": metric}}
            )
    elif threshold < 0 or (threshold == 0 and comparison == Comparison.BELOW):
        raise ValidationError(
            {"threshold": _("%(metric)s is never negative: this rule would always or never fire.") % {"metric": metric}}
        )
    return metric, comparison, float(threshold), percent


def usable_channels(user: Any) -> QuerySet[Channel]:
    """Channels the user may name on rules: operators any, tenant admins their tenants'. Which
    of them fit a given rule (its tenant's, or the platform's) `_channels` checks."""
    if roles.is_operator(user):
        return Channel.objects.all()
    return Channel.objects.filter(tenant_id__in=admin_tenant_ids(user))


def _channels(user, tenant, channels, rule=None):
    """The channels a rule names, checked: each is the rule's tenant's or the platform's (a
    platform rule: the platform's only), and one its author may use (or the rule names it
    already: a tenant admin keeps what an operator chose)."""
    chosen = []
    for channel in channels or []:
        if not isinstance(channel, Channel):
            channel = Channel.objects.filter(pk=channel).first() if str(channel).isdigit() else None
            if channel is None:
                raise ValidationError({"channels": _("There is no such channel.")})
        if channel not in chosen:
            chosen.append(channel)
    kept = set(rule.channels.values_list("pk", flat=True)) if rule is not None and rule.pk else set()
    usable = set(usable_channels(user).filter(pk__in=[c.pk for c in chosen]).values_list("pk", flat=True))
    for channel in chosen:
        if channel.pk not in usable and channel.pk not in kept:
            raise ValidationError(
                {
                    "channels": _("Tenant admins name only their own tenant's channels.")
                    if channel.tenant_id is None
                    else _("Name only the channels of your own tenant.")
                }
            )
        if channel.tenant_id is not None and (tenant is None or channel.tenant_id != tenant.pk):
            raise ValidationError(
                {
                    "channels": _(
                        "Channel %(name)s belongs to tenant %(owner)s: a rule names only its own tenant's channels "
                        "or the platform's."
                    )
                    % {"name": channel.name, "owner": channel.tenant_name or channel.tenant_id}
                }
            )
    return chosen


def clean_rule(
    user,
    *,
    name,
    kind,
    severity,
    tenant,
    cluster,
    namespace="",
    app="",
    metric="",
    comparison=Comparison.ABOVE,
    threshold=None,
    percent_of_limit=False,
    for_seconds=0,
    channels=None,
    rule=None,
):
    """The rule's fields, checked (`rule`: the rule being changed). The named channels come
    back as "channels", a list, for the caller to set after saving."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": _("Name the rule (at most 100 characters).")})
    if kind not in RuleKind.values:
        raise ValidationError({"kind": _("Choose what the rule watches.")})
    if severity not in Severity.values:
        raise ValidationError({"severity": _("Choose a severity.")})
    if for_seconds is None or not 0 <= for_seconds <= MAX_FOR_SECONDS:
        raise ValidationError(
            {
                "for_seconds": _("The duration is from 0 to %(max)s seconds (a day: raw samples are kept that long).")
                % {"max": MAX_FOR_SECONDS}
            }
        )
    tenant, cluster = _scope(user, kind, tenant, cluster, namespace, app)
    values = {
        "name": name,
        "kind": kind,
        "severity": severity,
        "tenant": tenant,
        "cluster": cluster,
        "namespace": namespace or "",
        "app": app or "",
        "for_seconds": int(for_seconds),
        "metric": "",
        "comparison": Comparison.ABOVE,
        "threshold": None,
        "percent_of_limit": False,
        "channels": _channels(user, tenant, channels, rule),
    }
    if kind in (RuleKind.THRESHOLD, RuleKind.VOLUME_FULL):
        metric, comparison, threshold, percent = _threshold(
            kind, metric, comparison, threshold, percent_of_limit, namespace, app, tenant
        )
        values.update(metric=metric, comparison=comparison, threshold=threshold, percent_of_limit=percent)
    return values


def _summary(rule):
    return {
        "name": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "scope": {"cluster": rule.cluster_id, "tenant": rule.tenant_id, "namespace": rule.namespace, "app": rule.app},
        "metric": rule.metric,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "percent_of_limit": rule.percent_of_limit,
        "for_seconds": rule.for_seconds,
        "enabled": rule.enabled,
        "channels": sorted(rule.channels.values_list("name", flat=True)),
    }


def _payload(fields):
    def plain(value):
        if isinstance(value, (Tenant, Cluster, Channel)):
            return value.pk
        if isinstance(value, (list, tuple, QuerySet)):
            return [plain(item) for item in value]
        return value

    return {k: plain(v) for k, v in fields.items()}


# --- rules -------------------------------------------------------------------------------


def create_rule(*, acting_user: Any, enabled: bool = True, **fields: Any) -> AlertRule:
    tenant = fields.get("tenant")
    target = {"tenant": tenant.name if tenant else "", "kind": "AlertRule", "name": str(fields.get("name", ""))[:100]}
    with oplog.recorded(acting_user, "alert_rule.create", target=target, payload=_payload(fields)) as outcome:
        require_permission(may_add_rules(acting_user), _("Only operators and tenant admins set alert rules."))
        values = clean_rule(acting_user, **fields)
        channels = values.pop("channels")
        rule = AlertRule.objects.create(created_by=acting_user, enabled=bool(enabled), **values)
        rule.channels.set(channels)
        outcome.target = rule.target()
        outcome.after = _summary(rule)
    return rule


def update_rule(rule: AlertRule, *, acting_user: Any, enabled: bool = True, **fields: Any) -> AlertRule:
    with oplog.recorded(acting_user, "alert_rule.update", target=rule.target(), payload=_payload(fields)) as outcome:
        require_permission(
            may_manage(acting_user, rule.tenant_id), _("Only operators and the tenant's admins change its rules.")
        )
        outcome.before = _summary(rule)
        if "channels" not in fields:  # not given: the rule keeps the channels it names
            fields["channels"] = list(rule.channels.all())
        values = clean_rule(acting_user, rule=rule, **fields)
        if values["tenant"] != rule.tenant and not roles.is_operator(acting_user):
            raise ValidationError(_("A rule stays in its tenant."))
        channels = values.pop("channels")
        for name, value in values.items():
            setattr(rule, name, value)
        rule.enabled = bool(enabled)
        rule.save()
        rule.channels.set(channels)
        # A changed rule starts afresh: what its old condition opened is closed.
        rule.alerts.filter(state=AlertState.PENDING).delete()
        rule.alerts.filter(state=AlertState.FIRING).update(state=AlertState.RESOLVED, resolved_at=timezone.now())
        outcome.after = _summary(rule)
    return rule


def delete_rule(rule: AlertRule, *, acting_user: Any) -> None:
    with oplog.recorded(acting_user, "alert_rule.delete", target=rule.target()) as outcome:
        require_permission(
            may_manage(acting_user, rule.tenant_id), _("Only operators and the tenant's admins remove its rules.")
        )
        outcome.before = _summary(rule)
        rule.delete()


# --- alerts ------------------------------------------------------------------------------


def _alert_target(alert):
    return {**alert.rule.target(), "name": f"{alert.rule.name}: {alert.target}"}


def may_act_on(user: Any, alert: Alert) -> bool:
    return roles.is_operator(user) or (alert.tenant_id is not None and alert.tenant_id in admin_tenant_ids(user))


def acknowledge_alert(alert: Alert, *, acting_user: Any) -> Alert:
    with oplog.recorded(acting_user, "alert.acknowledge", target=_alert_target(alert)) as outcome:
        require_permission(
            may_act_on(acting_user, alert), _("Only operators and the tenant's admins acknowledge its alerts.")
        )
        if alert.state == AlertState.RESOLVED:
            raise ValidationError(_("This alert has resolved already."))
        if alert.acknowledged_at is None:
            alert.acknowledged_by, alert.acknowledged_at = acting_user, timezone.now()
            alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
        outcome.after = {"acknowledged_at": alert.acknowledged_at.isoformat()}
    return alert


def silence_alert(alert: Alert, *, acting_user: Any, minutes: int | None) -> Alert:
    """No notifications about this alert (its end included) for `minutes`; 0 lifts the silence."""
    with oplog.recorded(
        acting_user, "alert.silence", target=_alert_target(alert), payload={"minutes": minutes}
    ) as outcome:
        require_permission(
            may_act_on(acting_user, alert), _("Only operators and the tenant's admins silence its alerts.")
        )
        if minutes is None or not 0 <= minutes <= MAX_SILENCE_MINUTES:
            raise ValidationError(
                {"minutes": _("Silence for 0 (lift) to %(max)s minutes.") % {"max": MAX_SILENCE_MINUTES}}
            )
        if alert.state == AlertState.RESOLVED:
            raise ValidationError(_("This alert has resolved already."))
        outcome.before = {"silenced_until": alert.silenced_until.isoformat() if alert.silenced_until else None}
        alert.silenced_until = timezone.now() + timedelta(minutes=minutes) if minutes else None
        alert.save(update_fields=["silenced_until"])
        outcome.after = {"silenced_until": alert.silenced_until.isoformat() if alert.silenced_until else None}
    return alert


# --- for other apps (console.alerting) ---------------------------------------------------


def firing_titles(*, cluster_id: int, namespace: str, app: str | None = None) -> list[str]:
    alerts = Alert.objects.filter(state=AlertState.FIRING, cluster_id=cluster_id, namespace=namespace)
    if app:
        alerts = alerts.filter(
            Q(app=app) | Q(target__in=(f"deployment/{namespace}/{app}", f"statefulset/{namespace}/{app}"))
        )
    return [f"{rule_name}: {target}" for rule_name, target in alerts.values_list("rule__name", "target")]
