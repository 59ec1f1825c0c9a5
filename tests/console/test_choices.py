"""Status choices declare each value once (label, colour, group) on one base: the badges keep
their colours and the groups say which statuses are still moving."""

import pytest

from console.choices import ClusterStatus, JobStatus, OperationResult, StatusChoices, VerificationStatus
from tenants.choices import ProjectStatus, TenantStatus
from workloads.choices import AppStatus

COLOURS = {
    OperationResult: {"succeeded": "success", "accepted": "info", "failed": "danger", "denied": "warning"},
    VerificationStatus: {
        "pending": "secondary",
        "running": "secondary",
        "intact": "success",
        "broken": "danger",
        "error": "danger",
    },
    ClusterStatus: {"ready": "success", "degraded": "warning", "unreachable": "danger"},
    JobStatus: {
        "pending": "secondary",
        "running": "primary",
        "succeeded": "success",
        "failed": "danger",
        "cancelled": "warning",
    },
    TenantStatus: {"active": "success", "suspended": "warning", "deleting": "danger"},
    ProjectStatus: {
        "creating": "primary",
        "active": "success",
        "updating": "primary",
        "deleting": "warning",
        "failed": "danger",
    },
    AppStatus: {
        "deploying": "primary",
        "running": "success",
        "updating": "primary",
        "failed": "danger",
        "deleting": "warning",
    },
}


@pytest.mark.parametrize("choices", COLOURS, ids=lambda c: c.__name__)
def test_each_status_keeps_its_colour_and_unknown_ones_are_grey(choices):
    assert issubclass(choices, StatusChoices)
    assert {value: choices.colour(value) for value in choices.values} == COLOURS[choices]
    assert choices.colour("no-such-status") == choices.colour(None) == "secondary"
    assert all(isinstance(value, str) and label for value, label in choices.choices)  # what fields and migrations read


def test_groups():
    assert JobStatus.active() == (JobStatus.PENDING, JobStatus.RUNNING)
    assert JobStatus.terminal() == (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
    assert VerificationStatus.terminal() == (
        VerificationStatus.INTACT,
        VerificationStatus.BROKEN,
        VerificationStatus.ERROR,
    )
    assert AppStatus.active() == (AppStatus.DEPLOYING, AppStatus.UPDATING, AppStatus.DELETING)
    assert ProjectStatus.terminal() == (ProjectStatus.ACTIVE, ProjectStatus.FAILED)
    assert JobStatus("running") is JobStatus.RUNNING and JobStatus.RUNNING == "running"
