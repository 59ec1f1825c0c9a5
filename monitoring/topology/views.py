"""Topology pages. Thin: find what the user may see (tenants.access: 404 for the namespaces
and tenants of others, like a typo; clusters for operators and auditors only), read the
mirror through services, render. The graph itself is drawn in the browser
(static/js/topology.js) from the JSON views here."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.accounts import roles
from console.accounts.access import require
from console.clusters import mirror
from console.clusters.models import Cluster
from kubesemantics import netpol
from tenants import access
from tenants.models import Project

from . import forms, graph, services, versions

signed_in = require()
may_see_clusters = require(
    lambda user: roles.is_operator(user) or roles.is_auditor(user),
    gettext_lazy("Only operators and auditors see whole clusters."),
)
SECTION = {"active_section": "topology"}
PAGE = {**SECTION, "kinds": graph.KIND_ORDER + ["Namespace"]}
APP_LABEL = "caas.io/app"  # workloads.manifests.APP_LABEL (monitoring may not import workloads)
LIVE_NAMESPACE_CAP = 30


def _url(name, *args, query=""):
    """A link to another module's page, when that module is installed."""
    try:
        return reverse(name, args=args) + query
    except NoReverseMatch:
        return ""


def _live(groups):
    return {"live_groups": groups, "live_ticks": [mirror.tick_id(g) for g in groups]}


# --- pages ---------------------------------------------------------------------------------


@require_GET
@signed_in
def index(request):
    user = request.user
    sees_all = access.may_see_all(user)
    if not sees_all and not roles.memberships(user):
        raise PermissionDenied(_("You belong to no tenant."))
    projects = access.visible_projects(user).select_related("tenant", "cluster").order_by("tenant__name", "name")
    context = {
        **SECTION,
        "clusters": Cluster.objects.all() if sees_all else [],
        "tenants": access.visible_tenants(user).order_by("name"),
        "projects": projects[:500],
    }
    return render(request, "topology/index.html", context)


@require_GET
@may_see_clusters
def cluster(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    groups = [mirror.kind_group(cluster.pk, kind) for kind in ("Pod", "Service", "Deployment", "StatefulSet")]
    return render(
        request,
        "topology/page.html",
        {
            **PAGE,
            **_live(groups),
            "scope": "cluster",
            "cluster": cluster,
            "title": cluster.name,
            "graph_url": reverse("topology:cluster_graph", args=[cluster.name]),
            "expand_url": reverse("topology:cluster_namespace_graph", args=[cluster.name, "NAMESPACE"]),
            "node_url": reverse("topology:cluster_node", args=[cluster.name]),
            "reach_form": forms.ReachForm(initial={"protocol": "TCP"}),
            "reach_url": reverse("topology:cluster_reach", args=[cluster.name]),
            "reach_choices": services.reach_choices(cluster),
        },
    )


def _tenant_and_cluster(request, tenant_name):
    tenant = access.get_tenant(request.user, tenant_name)
    projects = Project.objects.filter(tenant=tenant).select_related("cluster").order_by("cluster__name", "name")
    clusters = sorted({p.cluster for p in projects}, key=lambda c: c.name)
    wanted = request.GET.get("cluster", "")
    cluster = next((c for c in clusters if c.name == wanted), None) if wanted else (clusters[0] if clusters else None)
    if wanted and cluster is None:
        raise Http404("no such cluster for this tenant")
    namespaces = [p.name for p in projects if cluster and p.cluster_id == cluster.pk]
    return tenant, clusters, cluster, namespaces


@require_GET
@signed_in
def tenant(request, tenant):
    tenant, clusters, cluster, namespaces = _tenant_and_cluster(request, tenant)
    query = f"?cluster={cluster.name}" if cluster else ""
    groups = (
        [
            mirror.namespace_kind_group(cluster.pk, namespace, kind)
            for namespace in namespaces[:LIVE_NAMESPACE_CAP]
            for kind in ("Pod", "Service", "Deployment", "StatefulSet")
        ]
        if cluster
        else []
    )
    return render(
        request,
        "topology/page.html",
        {
            **PAGE,
            **_live(groups),
            "scope": "tenant",
            "tenant": tenant,
            "cluster": cluster,
            "clusters": clusters,
            "title": tenant.display_name or tenant.name,
            "graph_url": reverse("topology:tenant_graph", args=[tenant.name]) + query,
            "expand_url": reverse("topology:namespace_graph", args=[tenant.name, "NAMESPACE"]),
            "node_url": reverse("topology:tenant_node", args=[tenant.name]) + query,
            "reach_form": forms.ReachForm(initial={"protocol": "TCP"}) if cluster else None,
            "reach_url": reverse("topology:tenant_reach", args=[tenant.name]),
            "reach_cluster": cluster.name if cluster else "",
            "reach_choices": services.reach_choices(cluster, namespaces) if cluster else [],
        },
    )


@require_GET
@signed_in
def namespace(request, tenant, namespace):
    project = access.get_project(request.user, tenant, namespace)
    groups = [mirror.namespace_kind_group(project.cluster_id, project.name, kind) for kind in services.LIVE_KINDS]
    return render(
        request,
        "topology/page.html",
        {
            **PAGE,
            **_live(groups),
            "scope": "namespace",
            "project": project,
            "tenant": project.tenant,
            "cluster": project.cluster,
            "title": project.name,
            "graph_url": reverse("topology:namespace_graph", args=[project.tenant.name, project.name]),
            "node_url": reverse("topology:node", args=[project.tenant.name, project.name]),
            "reach_form": forms.ReachForm(initial={"protocol": "TCP"}),
            "reach_url": reverse("topology:reach", args=[project.tenant.name, project.name]),
            "reach_choices": services.reach_choices(
                project.cluster,
                list(
                    Project.objects.filter(tenant=project.tenant, cluster=project.cluster).values_list(
                        "name", flat=True
                    )
                ),
            ),
            # the templates module's extract flow, for the nodes the person selects (when installed)
            "extract_url": _url("stacks:extract", query=f"?project={project.pk}")
            if access.may_operate(request.user, project.tenant) and project.tenant.is_active
            else "",
        },
    )


# --- graphs as JSON ------------------------------------------------------------------------


def _json(request, data, filename):
    """The graph with its version; with ?since=<version>, what changed since then (versions.py).
    The scope is the view's path (and the tenant view's cluster): access to it was checked."""
    since = request.GET.get("since")
    if since is not None and not versions.is_version(since):
        return JsonResponse({"error": _("Not a version of this graph: %(since)s") % {"since": since[:40]}}, status=400)
    extra = {key: value for key, value in data.items() if key not in versions.CONTENT_KEYS}
    scope = f"{request.path}|{request.GET.get('cluster', '')}"
    download = bool(request.GET.get("download"))
    text = versions.answer(scope, data, extra, since=None if download else since)
    response = HttpResponse(text, content_type="application/json")
    if download:
        response["Content-Disposition"] = f'attachment; filename="{filename}.json"'
    return response


@require_GET
@may_see_clusters
def cluster_graph(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    result = services.namespace_summary(cluster)
    world = services.policy_world(cluster)
    result["paths"] = services.overlay(cluster, world, result, [n["name"] for n in result["nodes"]])
    return _json(request, {**result, "scope": "cluster", "cluster": cluster.name}, f"topology-{cluster.name}")


@require_GET
@may_see_clusters
def cluster_namespace_graph(request, name, namespace):
    cluster = get_object_or_404(Cluster, name=name)
    return _namespace_json(request, cluster, namespace)


@require_GET
@signed_in
def tenant_graph(request, tenant):
    tenant, _clusters, cluster, namespaces = _tenant_and_cluster(request, tenant)
    if cluster is None:
        return _json(request, {"nodes": [], "edges": [], "paths": [], "scope": "tenant"}, f"topology-{tenant.name}")
    result = services.namespace_summary(cluster, namespaces)
    world = services.policy_world(cluster)
    result["paths"] = services.overlay(cluster, world, result, namespaces)
    return _json(
        request, {**result, "scope": "tenant", "cluster": cluster.name}, f"topology-{tenant.name}-{cluster.name}"
    )


@require_GET
@signed_in
def namespace_graph(request, tenant, namespace):
    project = access.get_project(request.user, tenant, namespace)
    return _namespace_json(request, project.cluster, project.name)


def _namespace_json(request, cluster, namespace):
    result = services.namespace_graph(cluster, [namespace])
    result["paths"] = services.overlay(cluster, services.policy_world(cluster), result, [namespace])
    return _json(
        request,
        {**result, "scope": "namespace", "cluster": cluster.name, "namespace": namespace},
        f"topology-{cluster.name}-{namespace}",
    )


# --- the drawer ----------------------------------------------------------------------------


def _parse_id(ident):
    parts = (ident or "").split("/", 2)
    if len(parts) != 3 or parts[0] not in graph.KIND_ORDER + ["Namespace"]:
        raise Http404("no such node")
    return parts


def _drawer(request, cluster, namespace, ident, project=None):
    kind, node_namespace, name = _parse_id(ident)
    if kind == "Namespace":
        if name != namespace:
            raise Http404("no such node")
        summary = services.namespace_summary(cluster, [name])["nodes"][0]
        return render(request, "topology/_drawer.html", {"node": summary, "links": [], "neighbours": []})
    if node_namespace and node_namespace != namespace:
        raise Http404("no such node")
    result = services.namespace_graph(cluster, [namespace])
    node = next((n for n in result["nodes"] if n["id"] == ident), None)
    if node is None:  # not in the graph the user may see: the same answer as a typo
        raise Http404("no such node")
    neighbours = []
    for edge in result["edges"]:
        if edge["source"] == ident:
            neighbours.append((edge["relation"], edge["target"]))
        elif edge["target"] == ident:
            neighbours.append((edge["relation"], edge["source"]))
    context = {
        "node": node,
        "links": _links(request.user, cluster, node, project),
        "neighbours": sorted(neighbours)[:50],
        "more": max(0, len(neighbours) - 50),
    }
    return render(request, "topology/_drawer.html", context)


def _links(user, cluster, node, project):
    """Where to go from a node: the pages of the modules installed (built by name)."""
    links = []
    kind, namespace, name = node["kind"], node["namespace"], node["name"]
    app = (node.get("labels") or {}).get(APP_LABEL)
    if project is not None:
        args = (project.tenant.name, project.name)
        if app and kind in graph.WORKLOAD_KINDS + ("Pod",):
            links.append((_("App page"), _url("workloads:app", *args, app)))
            links.append((_("Scale"), _url("workloads:app", *args, app, query="#scaling")))
        if app and kind == "Pod":
            links.append((_("Logs"), _url("workloads:pod_log", *args, app, name)))
        if kind == "PersistentVolumeClaim":
            links.append((_("Backups"), _url("storage:volume", *args, name)))
        if kind == "ConfigMap":
            links.append((_("Edit ConfigMap"), _url("workloads:configmap_edit", *args, name)))
        if kind == "Secret":
            links.append((_("Edit Secret"), _url("workloads:secret_edit", *args, name)))
        if kind in graph.WORKLOAD_KINDS + ("Pod",):
            links.append(
                (
                    _("Who may reach it?"),
                    _url("topology:reach", *args, query=f"?target={node['id'].replace('/', '%2F')}"),
                )
            )
    if (roles.is_operator(user) or roles.is_auditor(user)) and kind not in ("RBDImage", "Secret", "ServiceAccount"):
        links.append(
            (_("In the resource browser"), _url("console:resource", cluster.name, kind, namespace or "-", name))
        )
    return [(label, url) for label, url in links if url]


@require_GET
@signed_in
def node(request, tenant, namespace):
    project = access.get_project(request.user, tenant, namespace)
    return _drawer(request, project.cluster, project.name, request.GET.get("id"), project)


@require_GET
@signed_in
def tenant_node(request, tenant):
    """A node of the tenant view: one of its namespaces (collapsed), or inside an expanded one."""
    tenant, _clusters, cluster, namespaces = _tenant_and_cluster(request, tenant)
    kind, node_namespace, name = _parse_id(request.GET.get("id"))
    wanted = name if kind == "Namespace" else (node_namespace or request.GET.get("namespace", ""))
    if cluster is None or wanted not in namespaces:
        raise Http404("no such node")
    project = Project.objects.select_related("tenant").get(cluster=cluster, name=wanted)
    return _drawer(request, cluster, wanted, request.GET.get("id"), project)


@require_GET
@may_see_clusters
def cluster_node(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    kind, node_namespace, node_name = _parse_id(request.GET.get("id"))
    namespace = node_name if kind == "Namespace" else (node_namespace or request.GET.get("namespace", ""))
    if not namespace:
        raise Http404("no such node")
    project = Project.objects.filter(cluster=cluster, name=namespace).select_related("tenant").first()
    return _drawer(request, cluster, namespace, request.GET.get("id"), project)


# --- can A reach B? ------------------------------------------------------------------------


@require_GET
@signed_in
def reach(request, tenant, namespace):
    """A question, not a change: a GET form. Each side is a workload, pod or namespace the user
    may see (else the same answer as a typo), or an address outside the cluster."""
    project = access.get_project(request.user, tenant, namespace)
    back = (reverse("topology:namespace", args=[project.tenant.name, project.name]), project.name)
    url = reverse("topology:reach", args=[project.tenant.name, project.name])
    return _reach(request, project.cluster, None, back, url, {"project": project, "tenant": project.tenant})


@require_GET
@may_see_clusters
def cluster_reach(request, name):
    """The same question on the cluster's page: any namespace of the cluster."""
    cluster = get_object_or_404(Cluster, name=name)
    back = (reverse("topology:cluster", args=[cluster.name]), cluster.name)
    return _reach(request, cluster, None, back, reverse("topology:cluster_reach", args=[cluster.name]), {})


@require_GET
@signed_in
def tenant_reach(request, tenant):
    """On the tenant's page: both sides among the tenant's own namespaces on that cluster (or an
    address outside), whoever asks; anything else is the same answer as a typo."""
    tenant, _clusters, cluster, namespaces = _tenant_and_cluster(request, tenant)
    if cluster is None:
        raise Http404("no namespaces")
    query = f"?cluster={cluster.name}"
    back = (reverse("topology:tenant", args=[tenant.name]) + query, tenant.display_name or tenant.name)
    url = reverse("topology:tenant_reach", args=[tenant.name])
    return _reach(request, cluster, set(namespaces), back, url, {"tenant": tenant, "reach_cluster": cluster.name})


def _reach(request, cluster, namespaces, back, url, extra):
    """namespaces: the only ones either side may name (None: those the user may see)."""
    context = {**SECTION, **extra, "cluster": cluster, "back_url": back[0], "back_label": back[1], "reach_url": url}
    asked = {"source", "target", "port"} & set(request.GET)
    form = forms.ReachForm(request.GET if asked else None, initial={"target": request.GET.get("target", "")})
    context["form"] = form
    template = "topology/_reach.html" if request.htmx else "topology/reach.html"
    if not asked:
        return render(request, template, context)
    if form.is_valid():
        world = services.policy_world(cluster)
        ends = []
        for field in ("source", "target"):
            endpoint, label = _endpoint(request.user, cluster, form.cleaned_data[field], namespaces)
            if endpoint is None:
                form.add_error(field, label)
            ends.append((endpoint, label))
        if form.is_valid():
            (source, source_label), (target, target_label) = ends
            verdict = services.reach(world, source, target, form.cleaned_data["port"], form.cleaned_data["protocol"])
            context.update(
                verdict=verdict,
                why=services.explain(verdict, source_label, target_label),
                source_label=source_label,
                target_label=target_label,
                calico=world.calico,
            )
            return render(request, template, context)
    return render(request, template, context, status=400)


def _endpoint(user, cluster, parsed, namespaces=None):
    """(Endpoint, label), or (None, message) for what does not exist or may not be seen."""
    if parsed[0] == "ip":
        return netpol.Endpoint(ip=parsed[1]), parsed[1]
    namespace = parsed[1] if parsed[0] == "namespace" else parsed[2]
    seen = namespace in namespaces if namespaces is not None else roles.may_see_namespace(user, cluster.pk, namespace)
    if not seen:
        return None, _("No namespace %(name)s on this cluster.") % {"name": namespace}
    if parsed[0] == "namespace":
        return services.namespace_endpoint(namespace), _("any pod of %(namespace)s") % {"namespace": namespace}
    _kind, kind, namespace, name = parsed
    endpoint = services.representative(cluster, namespace, kind, name)
    if endpoint is None:
        return None, _("No %(kind)s %(namespace)s/%(name)s in the mirror.") % {
            "kind": kind,
            "namespace": namespace,
            "name": name,
        }
    return endpoint, f"{kind} {namespace}/{name}"
