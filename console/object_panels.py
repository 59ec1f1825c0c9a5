"""Panels a feature app adds to another feature app's object page, when the two may not
import each other (workloads and monitoring are independent siblings).

    # monitoring/metrics/apps.py, in ready(): the app page gets its charts
    object_panels.register_object_panel("app", "metrics", "metrics/_app_panel.html", views.app_panel, order=30)

    # the page's view (workloads): the HTML of every panel registered for its kind (and,
    # with object_panels_live, the live groups the panels follow)
    object_panels.render_object_panels("app", request, app)

`context(request, obj)` gives the template's context, or None to leave the panel out; the page
has checked that the user may see `obj`. A live panel lists the Channels groups it follows in
its context's "live_groups": the page subscribes its socket to them (`object_panels_live`), as
it does to its own, and the panel's fragments arrive with the page's other pushes."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class ObjectPanel:
    kind: str
    key: str
    template: str
    context: Callable[[Any, Any], dict | None]
    order: int = 50


_panels: dict[tuple[str, str], ObjectPanel] = {}


def register_object_panel(kind: str, key: str, template: str, context, *, order: int = 50) -> None:
    _panels[(kind, key)] = ObjectPanel(kind, key, template, context, order)


@dataclass(frozen=True)
class RenderedPanels:
    html: SafeString
    live_groups: tuple[str, ...]  # what the shown panels follow live


def object_panels_live(kind: str, request, obj) -> RenderedPanels:
    """The HTML of every panel registered for the kind, and the live groups they follow."""
    out, groups = [], []
    for panel in sorted((p for p in _panels.values() if p.kind == kind), key=lambda p: (p.order, p.key)):
        context = panel.context(request, obj)
        if context is not None:
            out.append(render_to_string(panel.template, {"object": obj, **context}, request=request))
            groups.extend(group for group in context.get("live_groups", ()) if group not in groups)
    return RenderedPanels(mark_safe("".join(out)), tuple(groups))


def render_object_panels(kind: str, request, obj) -> SafeString:
    return object_panels_live(kind, request, obj).html
