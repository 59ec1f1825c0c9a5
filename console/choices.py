"""Choice classes. Statuses shown as badges declare each value once, with its label, the
badge colour and the group it belongs to (NetBox `ChoiceSet`, on Django's TextChoices):

    class AppStatus(StatusChoices):
        DEPLOYING = status("deploying", _("Deploying"), "primary", StatusGroup.RUNNING)
        RUNNING = status("running", _("Running"), "success")

`AppStatus.colour(value)` gives the colour (of a stored value too), `AppStatus.active()`
the pending and running ones, `AppStatus.terminal()` the settled ones."""

from __future__ import annotations

import enum
from typing import Any, Self

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# The colour of a value that is not (or no longer) among the choices.
UNKNOWN_COLOUR = "secondary"


class StatusGroup(enum.StrEnum):
    PENDING = "pending"  # waiting for its work to start (queued, accepted)
    RUNNING = "running"  # the console's work on it is in flight
    TERMINAL = "terminal"  # settled: nothing changes until somebody acts again


def status(
    value: str, label: str | Promise, colour: str = UNKNOWN_COLOUR, group: StatusGroup = StatusGroup.TERMINAL
) -> tuple[Any, ...]:
    """One status of a StatusChoices class. Django takes a member's label from the end of
    its tuple; StatusChoices.__new__ gets the rest."""
    return value, colour, group, label


class StatusChoices(models.TextChoices):
    """Statuses with a badge colour (Bootstrap's names) and a group, declared with `status()`."""

    colour_name: str
    group: StatusGroup

    def __new__(cls, value: str, colour: str = UNKNOWN_COLOUR, group: StatusGroup = StatusGroup.TERMINAL) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.colour_name = colour
        member.group = group
        return member

    @classmethod
    def colour(cls, value: str | None) -> str:
        try:
            return cls(value).colour_name
        except ValueError:
            return UNKNOWN_COLOUR

    @classmethod
    def in_group(cls, *groups: StatusGroup) -> tuple[Self, ...]:
        return tuple(member for member in cls if member.group in groups)

    @classmethod
    def active(cls) -> tuple[Self, ...]:
        """Not settled yet: queued or in progress."""
        return cls.in_group(StatusGroup.PENDING, StatusGroup.RUNNING)

    @classmethod
    def terminal(cls) -> tuple[Self, ...]:
        return cls.in_group(StatusGroup.TERMINAL)


class PlatformRole(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    AUDITOR = "auditor", _("Auditor")
    NONE = "", _("Tenant user")


class OperationResult(StatusChoices):
    SUCCEEDED = status("succeeded", _("Succeeded"), "success")
    # queued: the worker records the outcome later
    ACCEPTED = status("accepted", _("Accepted"), "info", StatusGroup.PENDING)
    FAILED = status("failed", _("Failed"), "danger")
    DENIED = status("denied", _("Denied"), "warning")


class VerificationStatus(StatusChoices):
    PENDING = status("pending", _("Pending"), group=StatusGroup.PENDING)
    RUNNING = status("running", _("Running"), group=StatusGroup.RUNNING)
    INTACT = status("intact", _("Chain intact"), "success")
    BROKEN = status("broken", _("Chain broken"), "danger")
    ERROR = status("error", _("Error"), "danger")


class NotificationLevel(models.TextChoices):
    INFO = "info", _("Info")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    DANGER = "danger", _("Alert")


class ClusterStatus(StatusChoices):
    READY = status("ready", _("Ready"), "success")
    DEGRADED = status("degraded", _("Degraded"), "warning")
    UNREACHABLE = status("unreachable", _("Unreachable"), "danger")


class JobStatus(StatusChoices):
    PENDING = status("pending", _("Queued"), group=StatusGroup.PENDING)
    RUNNING = status("running", _("Running"), "primary", StatusGroup.RUNNING)
    SUCCEEDED = status("succeeded", _("Succeeded"), "success")
    FAILED = status("failed", _("Failed"), "danger")
    CANCELLED = status("cancelled", _("Cancelled"), "warning")
