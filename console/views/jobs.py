from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import jobs
from ..access import require
from ..models import Job


@require_GET
@require()
def job_detail(request, pk):
    job = Job.objects.filter(pk=pk).select_related("requested_by").first()
    if job is None or not jobs.may_see(request.user, job):
        raise Http404("no such operation")  # the same answer whether it exists or not
    return render(request, "console/job.html", {"job": job, "job_group": jobs.group(job)})
