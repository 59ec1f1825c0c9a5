"""The app page's websocket group, app-<id>: tasks send it ticks as rollouts progress, and
on each tick (of it or of the namespace's mirror groups) the page's socket is pushed its live
part afresh (workloads.views.app_detail, a live view: console/live/views.py)."""

from console.live import realtime
from tenants import access

from .models import App


def may_follow_app(user, ident):
    app = App.objects.filter(pk=int(ident)).select_related("project__tenant").first() if ident.isdigit() else None
    return app is not None and access.may_see(user, app.project.tenant)


def snapshot(user, ident):
    """A tick right after subscribing: what changed between the page's render and the
    subscription is fetched at once."""
    return realtime.tick_message(f"app-{ident}")["html"]
