"""Panels a feature app adds to another feature app's object page, when the two may not
import each other (workloads and monitoring are independent siblings).

    # monitoring/metrics/apps.py, in ready(): the app page gets its charts
    object_panels.register_object_panel("app", "metrics", "metrics/_app_panel.html", views.app_panel, order=30)

    # the page's view (workloads): the HTML of every panel registered for its kind
    object_panels.render_object_panels("app", request, app)

`context(request, obj)` gives the template's context, or None to leave the panel out; the page
has checked that the user may see `obj`."""

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


def render_object_panels(kind: str, request, obj) -> SafeString:
    out = []
    for panel in sorted((p for p in _panels.values() if p.kind == kind), key=lambda p: (p.order, p.key)):
        context = panel.context(request, obj)
        if context is not None:
            out.append(render_to_string(panel.template, {"object": obj, **context}, request=request))
    return mark_safe("".join(out))
