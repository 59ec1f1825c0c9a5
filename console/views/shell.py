from django.http import Http404, HttpResponse
from django.shortcuts import render

from console import dashboard as dash
from console import navigation
from console.accounts.access import require


@require()
def dashboard(request):
    panels = [(panel, dash.render_panel(request, panel)) for panel in dash.panels_for(request)]
    return render(
        request,
        "console/dashboard.html",
        {"panels": panels, "refresh_seconds": dash.REFRESH_SECONDS, "audiences": dash.audiences(request)},
    )


@require()
def dashboard_panel(request, key):
    """One panel, fresh: the dashboard polls each of its panels with this."""
    panel = dash.panel_for(request, key)
    if panel is None:
        raise Http404
    return HttpResponse(dash.render_panel(request, panel))


@require()
def section(request, key):
    """A section that a later release builds: say so plainly."""
    found = navigation.section(key)
    if found is None or found.built:
        raise Http404
    return render(request, "console/section_not_built.html", {"section": found})
