from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from console.accounts.access import call_service, require
from console.jobs import jobs
from console.jobs.models import Job
from console.views.htmx import is_partial


def _visible_job(request, pk):
    job = Job.objects.filter(pk=pk).select_related("requested_by").first()
    if job is None or not jobs.may_see(request.user, job):
        raise Http404("no such operation")  # the same answer whether it exists or not
    return job


@require_GET
@require()
def job_detail(request, pk):
    job = _visible_job(request, pk)
    return render(request, "console/job.html", {"job": job, "job_group": jobs.group(job)})


@require_POST
@require()
def job_cancel(request, pk):
    job = _visible_job(request, pk)
    try:
        job = call_service(request, jobs.cancel_job, job)
    except ValidationError as exc:
        return render(request, "400.html", {"message": " ".join(exc.messages)}, status=409)
    if is_partial(request):
        return render(request, "console/_job.html", {"job": job})
    return redirect("console:job", pk=job.pk)
