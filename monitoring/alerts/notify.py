"""Telling people: an alert that fires or resolves is a notification to the rule's tenant
(its list, live toast, and its channels) or, for the operators' own rules, to operators and
the platform's channels; a rule that names channels goes out through those only. Silenced
alerts say nothing; many alerts of one rule in one evaluation are one notification."""

from collections import defaultdict

from django.urls import reverse

from console.choices import NotificationLevel, PlatformRole
from console.notifications import notifications
from console.notifications.models import Topic
from console.texts import message

from .choices import SEVERITY_LEVEL, Severity

FIRING = message("%(severity)s: %(rule)s on %(target)s")
FIRING_MANY = message("%(severity)s: %(rule)s on %(count)s targets")
RESOLVED = message("Resolved (%(severity)s): %(rule)s on %(target)s")
RESOLVED_MANY = message("Resolved (%(severity)s): %(rule)s on %(count)s targets")
VALUE = message("Value %(value)s (threshold %(comparison)s %(threshold)s), held for %(seconds)s s.")
STATE = message("Since %(since)s.")
TARGETS = message("Targets: %(targets)s")
SHOWN = 10


def severity_label(severity):
    return Severity(severity).label


def announce(fired, resolved, now):
    groups = defaultdict(lambda: ([], []))
    for alert in fired:
        if not alert.silenced(now):
            groups[alert.rule_id][0].append(alert)
    for alert in resolved:
        if not alert.silenced(now):
            groups[alert.rule_id][1].append(alert)
    for firing, ended in groups.values():
        if firing:
            _send(firing, resolved=False)
        if ended:
            _send(ended, resolved=True)
    from .models import Alert

    announced = [alert.pk for alert in fired if not alert.silenced(now)]
    if announced:
        Alert.objects.filter(pk__in=announced).update(notified=True)


def _send(alerts, *, resolved):
    rule = alerts[0].rule
    link = reverse("alerts:rule", args=[rule.pk])
    if len(alerts) == 1:
        alert = alerts[0]
        title = (RESOLVED if resolved else FIRING)(
            rule=rule.name, target=alert.target, severity=severity_label(rule.severity)
        )
        if rule.threshold is not None and alert.value is not None:
            body = VALUE(
                value=f"{alert.value:.4g}",
                comparison=rule.comparison,
                threshold=f"{rule.threshold:g}" + ("%" if rule.percent_of_limit or rule.kind == "volume_full" else ""),
                seconds=rule.for_seconds,
            )
        else:
            body = STATE(since=alert.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
        # The same alert flapping within a channel's dedup window is said once each way.
        key = f"alert-{rule.pk}-{alert.cluster_id}-{alert.target}-{'resolved' if resolved else 'firing'}"
    else:
        title = (RESOLVED_MANY if resolved else FIRING_MANY)(
            rule=rule.name, count=len(alerts), severity=severity_label(rule.severity)
        )
        shown = ", ".join(a.target for a in alerts[:SHOWN]) + (" …" if len(alerts) > SHOWN else "")
        body = TARGETS(targets=shown)
        key = f"alert-{rule.pk}-{'resolved' if resolved else 'firing'}-{min(a.pk for a in alerts)}"
    level = NotificationLevel.SUCCESS if resolved else SEVERITY_LEVEL[rule.severity]
    fields = {"body": body, "level": level, "link": link, "topic": Topic.ALERT, "key": key[:200], "resolved": resolved}
    # The channels the rule names, if any (else those that take alerts of this level).
    fields["channel_ids"] = list(rule.channels.values_list("pk", flat=True)) or None
    if rule.tenant_id:
        notifications.notify_tenant(rule.tenant_id, title, **fields)
    else:
        notifications.notify_role(PlatformRole.OPERATOR, title, **fields)
