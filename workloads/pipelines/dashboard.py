"""The pipelines' dashboard panel: the latest runs and how many run or wait now. Operators and
auditors see every tenant's, tenant users their tenants' only (the pipeline pages' own rule,
access.visible_projects). Three queries whatever the number of runs."""

from django.db.models import Count

from console import dashboard
from tenants import access

from .choices import RunStatus
from .models import Run

NAMED = 8  # the runs the panel lists, newest first


def runs_context(request):
    runs = Run.objects.filter(pipeline__project__in=access.visible_projects(request.user))
    counts = dict(runs.filter(status__in=RunStatus.active()).values_list("status").annotate(n=Count("id")).order_by())
    latest = list(
        runs.select_related("pipeline__project__tenant", "requested_by").order_by("-created_at", "-id")[:NAMED]
    )
    return {
        "run_counts": [
            (status, label, RunStatus.colour(status), counts.get(status, 0))
            for status, label in RunStatus.choices
            if status in RunStatus.active()
        ],
        "latest_runs": latest,
        "runs_see_all": access.may_see_all(request.user),
    }


def register():
    dashboard.register_panel(
        "pipeline_runs", "pipelines/_dash_runs.html", runs_context, ("operator", "auditor", "tenant"), order=40
    )
