"""Alert pages: firing alerts (live: the table re-reads itself), history, rules and a rule's
page with its own history. Thin: services check and act; what a user may not see is a 404."""

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.accounts.access import require
from console.clusters.mirror import tick_id
from console.views.generic import ServiceFormView
from console.views.htmx import is_partial
from tenants import access

from . import forms, live, services
from .choices import AlertState

DENIED = gettext_lazy("Alerts are for operators, auditors and the members of a tenant.")
may_open = require(services.may_open, DENIED)
SECTION = {"active_section": "alerts"}
PAGE_SIZE = 50
HISTORY = 50


def get_rule(user, pk):
    rule = services.visible_rules(user).filter(pk=pk).select_related("tenant", "cluster").first()
    if rule is None:
        raise Http404("no such rule")
    return rule


def get_alert(user, pk):
    alert = services.visible_alerts(user).filter(pk=pk).select_related("rule__tenant", "rule__cluster").first()
    if alert is None:
        raise Http404("no such alert")
    return alert


def open_alerts_context(request):
    alerts = (
        services.visible_alerts(request.user)
        .filter(state__in=(AlertState.FIRING, AlertState.PENDING))
        .select_related("rule", "acknowledged_by")
        .order_by("state", "-fired_at", "-id")[:500]
    )
    rows = [(alert, services.may_act_on(request.user, alert)) for alert in alerts]
    see_all = access.may_see_all(request.user)
    return {"rows": rows, "now": timezone.now(), "silence_form": forms.SilenceForm(), "see_all": see_all}


@require_GET
@may_open
def alert_list(request):
    context = open_alerts_context(request)
    if is_partial(request):
        return render(request, "alerts/_alert_table.html", context)
    groups = live.groups_of(request.user)
    context.update(live_groups=groups, live_ticks=[tick_id(group) for group in groups])
    return render(request, "alerts/alert_list.html", {**SECTION, **context})


@require_GET
@may_open
def alert_history(request):
    number = request.GET.get("page", "1")
    if not number.isdigit():
        return render(
            request, "400.html", {"message": _("The page number must be a positive whole number.")}, status=400
        )
    alerts = services.visible_alerts(request.user).filter(state=AlertState.RESOLVED).select_related("rule")
    page = Paginator(alerts.order_by("-resolved_at", "-id"), PAGE_SIZE).get_page(int(number))
    return render(request, "alerts/alert_history.html", {**SECTION, "page": page})


@require_GET
@may_open
def rule_list(request):
    rules = (
        services.visible_rules(request.user)
        .select_related("tenant", "cluster")
        .annotate(firing=Count("alerts", filter=Q(alerts__state=AlertState.FIRING)))
    )
    return render(
        request,
        "alerts/rule_list.html",
        {**SECTION, "rules": rules, "may_add": services.may_add_rules(request.user)},
    )


class RuleAddView(ServiceFormView):
    http_method_names = ["get", "post"]
    allowed = services.may_add_rules
    denied_message = gettext_lazy("Only operators and tenant admins set alert rules.")
    service = services.create_rule
    form_class = forms.RuleForm
    template_name = "alerts/rule_form.html"
    success_message = gettext_lazy("Rule %(name)s added.")

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def get_context_data(self, **extra):
        return {**SECTION, **extra}

    def message_params(self, result):
        return {"name": result.name}

    def get_success_url(self, result):
        return reverse("alerts:rule", args=[result.pk])


class RuleView(ServiceFormView):
    """A rule's page: its settings (a form for those who may change them) and its history."""

    http_method_names = ["get", "post"]
    allowed = services.may_open
    denied_message = DENIED
    service = services.update_rule
    form_class = forms.RuleForm
    template_name = "alerts/rule.html"
    success_message = gettext_lazy("Rule %(name)s saved.")

    def get_object(self):
        return get_rule(self.request.user, self.kwargs["pk"])

    def get_form_kwargs(self):
        return {"user": self.request.user, "rule": self.object}

    def get_context_data(self, **extra):
        alerts = self.object.alerts.select_related("acknowledged_by")[:HISTORY]
        return {
            **SECTION,
            "rule": self.object,
            "may_manage": services.may_manage(self.request.user, self.object.tenant_id),
            "alerts": alerts,
            "now": timezone.now(),
            **extra,
        }

    def get_success_url(self, result):
        return resolve_url(self.success_url) if self.success_url else reverse("alerts:rule", args=[self.object.pk])


class RuleDeleteView(RuleView):
    http_method_names = ["post"]
    form_class = None
    errors_as_message = True

    def render_page(self, form, status):
        context = self.get_context_data(form=forms.RuleForm(user=self.request.user, rule=self.object))
        return render(self.request, self.template_name, context, status=status)


class AlertActionView(ServiceFormView):
    """Acknowledge or silence from the alerts page; a refusal comes back there with its message."""

    allowed = services.may_open
    denied_message = DENIED
    template_name = "alerts/alert_list.html"
    errors_as_message = True
    success_url = "alerts:alert_list"

    def get_object(self):
        return get_alert(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **extra):
        return {**SECTION, **open_alerts_context(self.request), **extra}

    def message_params(self, result):
        return {"name": f"{self.object.rule.name}: {self.object.target}"}


rule_add = RuleAddView.as_view()
rule = RuleView.as_view()
rule_delete = RuleDeleteView.as_view(
    service=services.delete_rule, success_message=gettext_lazy("Rule %(name)s removed."), success_url="alerts:rule_list"
)
alert_acknowledge = AlertActionView.as_view(
    service=services.acknowledge_alert, success_message=gettext_lazy("Acknowledged %(name)s.")
)
alert_silence = AlertActionView.as_view(
    service=services.silence_alert,
    form_class=forms.SilenceForm,
    form_name="silence_form",
    invalid_message=gettext_lazy("Silence for a whole number of minutes, from 0 (lift the silence) to 10080 (a week)."),
    success_message=gettext_lazy("Silenced %(name)s."),
)
