"""The run page's websocket group, pipelinerun-<run id>: the run partial
(templates/pipelines/_run.html: stages, their logs and durations) pushed after each change of
status, rendered in each language, and new log lines appended as they come (logs.py); only
who may see the pipeline's tenant may follow it."""

from console.live import realtime
from tenants import access

from .models import Pipeline, Run


def run_context(run, **extra):
    return {"run": run, "pipeline": run.pipeline, "stages": list(run.stages.all()), **extra}


def push_run(run):
    """The whole run partial, after a stage or the run changed its status (new log lines are
    pushed on their own, appended: logs.push_lines)."""
    run = Run.objects.select_related("pipeline__project__tenant", "requested_by").get(pk=run.pk)
    realtime.push_in_each_language(run.group, "pipelines/_run.html", run_context(run, pushed=True))
    push_runs(run.pipeline)


def runs_context(pipeline, **extra):
    return {"pipeline": pipeline, "runs": pipeline.runs.select_related("requested_by")[:30], **extra}


def push_runs(pipeline):
    """The pipeline page's runs table, after a run was added or changed its status."""
    realtime.push_in_each_language(pipeline.group, "pipelines/_runs.html", runs_context(pipeline, pushed=True))


def _pipeline(ident):
    if not ident.isdigit():
        return None
    return Pipeline.objects.filter(pk=int(ident)).select_related("project__tenant").first()


def may_follow_pipeline(user, ident):
    pipeline = _pipeline(ident)
    return pipeline is not None and access.may_see(user, pipeline.project.tenant)


def pipeline_snapshot(user, ident):
    pipeline = _pipeline(ident)
    if pipeline is None:
        return ""
    return realtime.render_for(user, "pipelines/_runs.html", runs_context(pipeline, pushed=True))


def _run(ident):
    if not ident.isdigit():
        return None
    return Run.objects.filter(pk=int(ident)).select_related("pipeline__project__tenant").first()


def may_follow_run(user, ident):
    run = _run(ident)
    return run is not None and access.may_see(user, run.pipeline.project.tenant)


def snapshot(user, ident):
    run = _run(ident)
    if run is None:
        return ""
    return realtime.render_for(user, "pipelines/_run.html", run_context(run, pushed=True))
