from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from console.clusters import mirror, resources
from console.clusters.models import Cluster
from console.forms import ResourceFilterForm
from console.kube.kinds import KINDS, MIRRORED_KINDS, is_mirrored
from console.live.views import live_view
from console.views.clusters import may_view
from console.views.htmx import is_partial

CLUSTER_SCOPED_NAMESPACE = "-"  # URL placeholder for objects without a namespace


def _cluster_and_kind(name, kind):
    cluster = get_object_or_404(Cluster, name=name)
    if kind is not None and not is_mirrored(kind):
        raise Http404(f"unknown kind {kind}")
    return cluster, kind


@require_GET
@may_view
def resource_index(request, name):
    cluster, _kind = _cluster_and_kind(name, None)
    counts = resources.kind_counts(cluster)
    kinds = [(k.kind, counts.get(k.kind, 0)) for k in MIRRORED_KINDS]
    return render(
        request, "console/resource_index.html", {"cluster": cluster, "kinds": kinds, "active_section": "clusters"}
    )


@live_view(shared=True)  # the table is the same for every operator and auditor: no forms, no per-user parts
@require_GET
@may_view
def resource_list(request, name, kind):
    cluster, kind = _cluster_and_kind(name, kind)
    form = ResourceFilterForm(request.GET)
    context = {
        "cluster": cluster,
        "kind": kind,
        "form": form,
        "active_section": "clusters",
        "namespaced": KINDS[kind].namespaced,
    }
    if not form.is_valid():
        return render(request, "console/resource_list.html", context, status=400)
    filters = {key: value for key, value in form.cleaned_data.items() if value}
    page = resources.list_objects(cluster, kind, **filters)
    query = request.GET.copy()
    query.pop("page", None)
    namespace = form.cleaned_data.get("namespace")
    live_group = (
        mirror.namespace_kind_group(cluster.pk, namespace, kind) if namespace else mirror.kind_group(cluster.pk, kind)
    )
    context.update(page=page, query=query.urlencode(), live_group=live_group, live_tick_id=mirror.tick_id(live_group))
    template = "console/_resource_table.html" if is_partial(request) else "console/resource_list.html"
    return render(request, template, context)


@require_GET
@may_view
def resource_detail(request, name, kind, namespace, obj_name):
    cluster, kind = _cluster_and_kind(name, kind)
    obj = resources.find(cluster, kind, "" if namespace == CLUSTER_SCOPED_NAMESPACE else namespace, obj_name)
    if obj is None:
        raise Http404("not in the mirror")
    return render(
        request,
        "console/resource_detail.html",
        {
            "cluster": cluster,
            "obj": obj,
            "yaml": resources.as_yaml(obj),
            "owners": resources.owner_chain(obj),
            "children": resources.children(obj),
            "events": resources.events_for(obj),
            "active_section": "clusters",
        },
    )
