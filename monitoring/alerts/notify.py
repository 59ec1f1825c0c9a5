"""Telling people: an alert that fires or resolves is a notification to the rule's tenant
(its list, live toast, and its channels) or, for the operators' own rules, to operators and
the platform's channels; a rule that names channels goes out through those only (still only
its tenant's or the platform's, checked again when sent). Silenced and acknowledged alerts
say nothing; an alert's firing is announced once, and its end only when its firing was; many
alerts of one rule in one evaluation are one notification.

Announcing what one evaluation changed takes a fixed number of queries, whatever the number
of alerts: their silences and acknowledgements, the rules' channels, the recipients are each
read once, and the notifications and deliveries written in bulk (console.notifications)."""

from collections import defaultdict

from django.db import transaction
from django.urls import reverse

from console.choices import NotificationLevel
from console.notifications import notifications
from console.notifications.models import Topic
from console.texts import message

from .choices import SEVERITY_LEVEL, Severity
from .models import Alert, AlertRule

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


def quiet(silenced_until, acknowledged_at, now):
    return acknowledged_at is not None or (silenced_until is not None and silenced_until > now)


def announce(fired, resolved, now):
    """Notify what an evaluation changed (after it committed). The alerts are read again, locked:
    a silence or an acknowledgement given since the evaluation read them counts, and of two
    announcements of one alert only the first speaks."""
    changed = [alert.pk for alert in [*fired, *resolved]]
    if not changed:
        return
    with transaction.atomic():
        rows = (
            Alert.objects.select_for_update()
            .filter(pk__in=changed)
            .values_list("pk", "silenced_until", "acknowledged_at", "notified")
        )
        # whether each alert that may speak was announced already (silenced and acknowledged ones may not)
        announced = {pk: was for pk, silenced_until, acked, was in rows if not quiet(silenced_until, acked, now)}
        firing = [alert for alert in fired if announced.get(alert.pk) is False]
        ended = [alert for alert in resolved if announced.get(alert.pk)]  # an end is said where the firing was
        if not firing and not ended:
            return
        _attach_rules([*firing, *ended])
        channels = defaultdict(list)
        rule_ids = {alert.rule_id for alert in [*firing, *ended]}
        for rule_id, channel_id in AlertRule.channels.through.objects.filter(alertrule_id__in=rule_ids).values_list(
            "alertrule_id", "channel_id"
        ):
            channels[rule_id].append(channel_id)
        groups = defaultdict(lambda: ([], []))
        for alert in firing:
            groups[alert.rule_id][0].append(alert)
        for alert in ended:
            groups[alert.rule_id][1].append(alert)
        messages = []
        for rule_id, (group_firing, group_ended) in groups.items():
            for alerts, resolved_now in ((group_firing, False), (group_ended, True)):
                if alerts:
                    messages.append(_message(alerts, channels[rule_id], resolved=resolved_now))
        if firing:
            Alert.objects.filter(pk__in=[alert.pk for alert in firing]).update(notified=True)
        notifications.notify_batch(messages)


def _attach_rules(alerts):
    """The rules of alerts that do not carry theirs yet (the evaluation attaches them): one query."""
    missing = {alert.rule_id for alert in alerts if not Alert.rule.is_cached(alert)}
    if missing:
        rules = AlertRule.objects.in_bulk(missing)
        for alert in alerts:
            if alert.rule_id in rules:
                alert.rule = rules[alert.rule_id]


def _message(alerts, channel_ids, *, resolved):
    """(tenant id or None for the operators, title, fields) of one rule's alerts that fired or ended."""
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
    fields["channel_ids"] = sorted(channel_ids) or None
    return (rule.tenant_id or None, title, fields)
