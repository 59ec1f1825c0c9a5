"""Monitoring pages: an overview, then cluster, node, namespace, workload and pod pages made of
charts that load as htmx partials and extend themselves live. Thin: scopes are resolved (and
authorised) in charts.py, figures read through query.samples, summaries in services.py."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.accounts import roles
from console.accounts.access import require
from console.views.generic import ServiceFormView

from . import charts, forms, services
from .models import PrometheusSource
from .prometheus import PrometheusError

signed_in = require()
SECTION = {"active_section": "monitoring"}


def may_open(user):
    """The section: operators and auditors (every cluster), tenant users (their namespaces)."""
    return user.is_authenticated and (
        roles.is_operator(user) or roles.is_auditor(user) or bool(roles.memberships(user))
    )


def _range(request):
    key = request.GET.get("range", charts.DEFAULT_RANGE)
    if key not in charts.RANGES:
        raise Http404("no such range")
    return key


def _page(request, scope, template, **extra):
    range_key = _range(request)
    context = {
        **SECTION,
        "scope": scope,
        "charts": [
            {"chart": chart, "url": chart_url(scope, chart.key, range_key)} for chart in charts.CHARTS[scope.kind]
        ],
        "prom_charts": [
            {"chart": chart, "url": chart_url(scope, chart.key, range_key)}
            for chart in charts.PROM_CHARTS.get(scope.kind, ())
        ],
        "ranges": list(charts.RANGES),
        "range_key": range_key,
        "live_groups": [scope.group],
        **extra,
    }
    return render(request, template, context)


def chart_url(scope, key, range_key):
    return reverse("metrics:chart", args=[scope.kind, scope.cluster.name, key]) + "?" + _query(scope, range_key)


def _query(scope, range_key):
    from urllib.parse import urlencode

    return urlencode({"name": scope.name, "range": range_key})


@require_GET
@signed_in
def overview(request):
    if not may_open(request.user):
        raise PermissionDenied(_("Your role does not allow this."))
    return render(request, "metrics/overview.html", {**SECTION, **services.overview(request.user)})


@require_GET
@signed_in
def cluster_page(request, cluster):
    scope = charts.resolve_scope(request.user, "cluster", cluster)
    return _page(request, scope, "metrics/cluster.html", **cluster_extra(scope))


@require_GET
@signed_in
def node_page(request, cluster, node):
    scope = charts.resolve_scope(request.user, "node", cluster, node)
    return _page(request, scope, "metrics/scope.html")


@require_GET
@signed_in
def namespace_page(request, cluster, namespace):
    scope = charts.resolve_scope(request.user, "namespace", cluster, namespace)
    return _page(request, scope, "metrics/namespace.html", **services.namespace_summary(scope.cluster, namespace))


@require_GET
@signed_in
def workload_page(request, cluster, namespace, kind, name):
    scope = charts.resolve_scope(request.user, "workload", cluster, f"{kind}/{namespace}/{name}")
    return _page(request, scope, "metrics/scope.html")


@require_GET
@signed_in
def pod_page(request, cluster, namespace, pod):
    scope = charts.resolve_scope(request.user, "pod", cluster, f"{namespace}/{pod}")
    return _page(request, scope, "metrics/scope.html")


@require_GET
@signed_in
def chart(request, kind, cluster, key):
    """One chart as an htmx partial; with ?since=<epoch seconds>&divisor=<scale>, its new points
    as JSON (what the page appends live)."""
    scope = charts.resolve_scope(request.user, kind, cluster, request.GET.get("name", ""))
    range_key = _range(request)
    if key.startswith("prom-"):
        return prom_chart(request, scope, charts.prom_chart_of(scope, key), range_key)
    chart_ = charts.chart_of(scope, key)
    if "since" in request.GET:
        try:
            since = int(request.GET["since"])
            divisor = float(request.GET.get("divisor", "1"))
        except ValueError:
            return HttpResponseBadRequest(_("since and divisor must be numbers."))
        if since < 0 or not divisor > 0:
            return HttpResponseBadRequest(_("since and divisor must be positive."))
        return JsonResponse(charts.new_points(scope, chart_, since, divisor, range_key))
    fig = charts.figure(scope, chart_, range_key)
    return render(
        request,
        "metrics/_chart.html",
        {
            "scope": scope,
            "chart": chart_,
            "figure": fig,
            "url": chart_url(scope, key, range_key),
            "dom_id": f"chart-{scope.kind}-{key}",
            "figure_id": f"chart-{scope.kind}-{key}-figure",
        },
    )


def app_panel(request, app):
    """The app page's charts (console.object_panels; the app page has authorised the reader).
    Live like the chart pages: the page's socket follows the app's namespace group, and each
    scrape's tick makes the charts fetch their new points."""
    project = app.project
    scope = charts.Scope("workload", project.cluster, f"{app.kind.lower()}/{project.name}/{app.name}")
    range_key = charts.DEFAULT_RANGE
    return {
        "scope": scope,
        "charts": [
            {"chart": chart, "url": chart_url(scope, chart.key, range_key)}
            for chart in charts.CHARTS["workload"]
            if chart.key in ("cpu", "memory", "restarts")
        ],
        "live_groups": [scope.group],
        "page_url": reverse(
            "metrics:workload", args=[project.cluster.name, project.name, scope.name.split("/")[0], app.name]
        ),
    }


def prom_chart(request, scope, chart_, range_key):
    """A disk, network, filesystem or process chart: PromQL over the cluster's Prometheus, or
    what is missing for it."""
    source = PrometheusSource.objects.filter(cluster=scope.cluster).first()
    context = {
        "scope": scope,
        "chart": chart_,
        "url": chart_url(scope, chart_.key, range_key),
        "dom_id": f"chart-{scope.kind}-{chart_.key}",
        "figure_id": f"chart-{scope.kind}-{chart_.key}-figure",
    }
    if source is None:
        context["missing"] = _(
            "No Prometheus is set for cluster %(cluster)s: disk, network, filesystem and process charts read "
            "a Prometheus HTTP API. An operator sets its URL on the cluster's monitoring page."
        ) % {"cluster": scope.cluster.name}
        return render(request, "metrics/_chart.html", context)
    try:
        context["figure"] = charts.prom_figure(scope, chart_, range_key, source)
    except PrometheusError as exc:
        context["missing"] = str(exc)
    return render(request, "metrics/_chart.html", context)


class PrometheusView(ServiceFormView):
    """Set (or clear) the cluster's Prometheus URL, from the cluster's monitoring page."""

    service = services.set_prometheus_url
    form_class = forms.PrometheusForm
    form_name = "prometheus_form"
    template_name = "metrics/cluster.html"
    errors_as_message = True
    success_message = gettext_lazy("The Prometheus of %(name)s is set.")
    allowed = roles.is_operator

    def get_object(self):
        return charts.resolve_scope(self.request.user, "cluster", self.kwargs["cluster"]).cluster

    def render_page(self, form, status):
        scope = charts.resolve_scope(self.request.user, "cluster", self.object.name)
        response = _page(self.request, scope, self.template_name, **cluster_extra(scope, prometheus_form=form))
        response.status_code = status
        return response

    def message_params(self, result):
        return {"name": self.object.name}

    def get_success_url(self, result):
        return reverse("metrics:cluster", args=[self.object.name])


prometheus = PrometheusView.as_view()


def cluster_extra(scope, prometheus_form=None):
    source = PrometheusSource.objects.filter(cluster=scope.cluster).first()
    return {
        **services.cluster_summary(scope.cluster),
        "prometheus_url": source.url if source else "",
        "prometheus_form": prometheus_form or forms.PrometheusForm(initial={"url": source.url if source else ""}),
    }
