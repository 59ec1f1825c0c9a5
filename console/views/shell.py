from django.http import Http404
from django.shortcuts import render

from .. import navigation, roles
from ..access import require
from ..models import OperationLogEntry


@require()
def dashboard(request):
    recent = OperationLogEntry.objects.all()
    if not roles.can_read_operation_log(request.user):
        recent = recent.filter(actor_id=request.user.pk)
    return render(
        request,
        "console/dashboard.html",
        {
            "recent_operations": recent.order_by("-id")[:8],
            "memberships": roles.memberships(request.user),
            "sections": [s for s in navigation.SECTIONS if s.key != "dashboard"],
        },
    )


@require()
def section(request, key):
    """A section that a later release builds: say so plainly."""
    found = navigation.section(key)
    if found is None or found.built:
        raise Http404
    return render(request, "console/section_not_built.html", {"section": found})
