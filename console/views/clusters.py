from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.clusters import clusters

from console.clusters import permissions

from console.accounts import roles
from console.accounts.access import require
from console.choices import ClusterStatus
from console.forms import ClusterForm
from console.clusters.models import Cluster

may_view = require(lambda user: roles.is_operator(user) or roles.is_auditor(user), gettext_lazy("Only operators and auditors see the cluster registry."))
may_manage = require(roles.is_operator, gettext_lazy("Only operators manage clusters."))
INSECURE_WARNING = gettext_lazy("This kubeconfig sets insecure-skip-tls-verify: the console does not check the API server's "
                                "certificate, so anybody on the network path could pose as the cluster and read its credentials. "
                                "Add certificate-authority-data instead.")


@require_GET
@may_view
def cluster_list(request):
    return render(request, "console/cluster_list.html", {"clusters": Cluster.objects.all(), "active_section": "clusters"})


@require_http_methods(["GET", "POST"])
@may_manage
def cluster_add(request):
    form = ClusterForm(request.POST, request.FILES) if request.method == "POST" else ClusterForm()
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                cluster = clusters.register_cluster(
                    acting_user=request.user, name=data["name"], kubeconfig_text=data["kubeconfig"],
                    context=data["context"], region=data["region"], description=data["description"],
                    add_anyway=data["add_anyway"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if cluster.permissions_missing:
                    messages.warning(request, _("Cluster %(name)s added for read-only use.") % {"name": cluster.name} + " "
                                     + clusters.missing_message(cluster))
                else:
                    messages.success(request, _("Cluster %(name)s added.") % {"name": cluster.name})
                return redirect("console:cluster", name=cluster.name)
        return render(request, "console/cluster_add.html", {"form": form, "active_section": "clusters"}, status=400)
    return render(request, "console/cluster_add.html", {"form": form, "active_section": "clusters"})


@require_GET
@may_view
def cluster_detail(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    return render(request, "console/cluster.html", detail_context(cluster))


def detail_context(cluster):
    return {"cluster": cluster, "active_section": "clusters", "permissions": permissions.report(cluster),
            "insecure_tls_warning": INSECURE_WARNING if clusters.skips_tls_verify(cluster) else ""}


@require_POST
@may_manage
def cluster_refresh(request, name):
    cluster = clusters.refresh_cluster(get_object_or_404(Cluster, name=name))
    if cluster.status == ClusterStatus.UNREACHABLE:
        messages.error(request, cluster.status_message)
    elif cluster.permissions_missing:
        messages.warning(request, _("Cluster %(name)s refreshed.") % {"name": name} + " " + clusters.missing_message(cluster))
    else:
        messages.success(request, _("Cluster %(name)s refreshed: the console's identity has every permission it needs.") % {"name": name})
    return redirect("console:cluster", name=name)


@require_POST
@may_manage
def cluster_remove(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    try:
        clusters.remove_cluster(cluster.pk, acting_user=request.user, confirm_name=request.POST.get("confirm_name", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return render(request, "console/cluster.html", detail_context(cluster), status=400)
    messages.success(request, _("Cluster %(name)s removed.") % {"name": name})
    return redirect("console:cluster_list")
