from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from console import object_panels
from console.accounts import roles
from console.accounts.access import require
from console.choices import ClusterStatus
from console.clusters import clusters, permissions
from console.clusters.models import Cluster
from console.forms import ClusterForm, ConfirmForm
from console.views.generic import ServiceFormView

may_view = require(
    lambda user: roles.is_operator(user) or roles.is_auditor(user),
    gettext_lazy("Only operators and auditors see the cluster registry."),
)
MANAGE_REFUSAL = gettext_lazy("Only operators manage clusters.")
may_manage = require(roles.is_operator, MANAGE_REFUSAL)
INSECURE_WARNING = gettext_lazy(
    "This kubeconfig sets insecure-skip-tls-verify: the console does not check the API server's "
    "certificate, so anybody on the network path could pose as the cluster and read its credentials. "
    "Add certificate-authority-data instead."
)
SECTION = {"active_section": "clusters"}


@require_GET
@may_view
def cluster_list(request):
    return render(request, "console/cluster_list.html", {**SECTION, "clusters": Cluster.objects.all()})


class ClusterAddView(ServiceFormView):
    http_method_names = ["get", "post"]
    allowed = roles.is_operator
    denied_message = MANAGE_REFUSAL
    service = clusters.register_cluster
    form_class = ClusterForm
    template_name = "console/cluster_add.html"

    def get_context_data(self, **extra):
        return {**SECTION, **extra}

    def service_kwargs(self, form):
        data = form.cleaned_data
        return {
            "name": data["name"],
            "kubeconfig_text": data["kubeconfig"],
            **{key: data[key] for key in ("context", "region", "description", "add_anyway")},
        }

    def announce(self, cluster):
        if cluster.permissions_missing:
            messages.warning(
                self.request,
                _("Cluster %(name)s added for read-only use.") % {"name": cluster.name}
                + " "
                + clusters.missing_message(cluster),
            )
        else:
            messages.success(self.request, _("Cluster %(name)s added.") % {"name": cluster.name})

    def get_success_url(self, cluster):
        return reverse("console:cluster", args=[cluster.name])


cluster_add = ClusterAddView.as_view()


@require_GET
@may_view
def cluster_detail(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    return render(
        request,
        "console/cluster.html",
        detail_context(cluster, cluster_panels=object_panels.render_object_panels("cluster", request, cluster)),
    )


def detail_context(cluster, **extra):
    return {
        **SECTION,
        "cluster": cluster,
        "permissions": permissions.report(cluster),
        "insecure_tls_warning": INSECURE_WARNING if clusters.skips_tls_verify(cluster) else "",
        **extra,
    }


@require_POST
@may_manage
def cluster_refresh(request, name):
    cluster = clusters.refresh_cluster(get_object_or_404(Cluster, name=name))
    if cluster.status == ClusterStatus.UNREACHABLE:
        messages.error(request, cluster.status_message)
    elif cluster.permissions_missing:
        messages.warning(
            request, _("Cluster %(name)s refreshed.") % {"name": name} + " " + clusters.missing_message(cluster)
        )
    else:
        messages.success(
            request,
            _("Cluster %(name)s refreshed: the console's identity has every permission it needs.") % {"name": name},
        )
    return redirect("console:cluster", name=name)


class ClusterRemoveView(ServiceFormView):
    allowed = roles.is_operator
    denied_message = MANAGE_REFUSAL
    service = clusters.remove_cluster
    form_class = ConfirmForm
    form_name = "confirm_form"
    strict_form = False
    errors_as_message = True
    template_name = "console/cluster.html"
    success_message = gettext_lazy("Cluster %(name)s removed.")
    success_url = "console:cluster_list"

    def get_object(self):
        return get_object_or_404(Cluster, name=self.kwargs["name"])

    def get_context_data(self, **extra):
        return detail_context(self.object, **extra)

    def service_args(self):
        return (self.object.pk,)


cluster_remove = ClusterRemoveView.as_view()
