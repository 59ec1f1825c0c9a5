"""Notification channels' pages: the list, add, a channel's page (settings and its recent
deliveries with their errors), remove, send a test. Thin: console.notifications.services
does the work; a channel the user may not see is a 404."""

from django.http import Http404
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.accounts.access import require
from console.notification_channels import services
from console.notification_channels.forms import ChannelForm
from console.views.generic import ServiceFormView

DENIED = gettext_lazy("Only operators, auditors and tenant admins see notification channels.")
may_open = require(services.may_open_channels, DENIED)
RECENT = 30


def get_channel(user, pk):
    channel = services.visible_channels(user).filter(pk=pk).first()
    if channel is None:
        raise Http404("no such channel")
    return channel


def channel_url(channel):
    return reverse("console:channel", args=[channel.pk])


@require_GET
@may_open
def channel_list(request):
    channels = services.visible_channels(request.user)
    may_add = services.may_add_channels(request.user)
    return render(
        request,
        "console/channel_list.html",
        {"channels": channels, "may_add": may_add, "active_section": "notifications"},
    )


class ChannelAddView(ServiceFormView):
    http_method_names = ["get", "post"]
    allowed = services.may_add_channels
    denied_message = gettext_lazy("Only operators and tenant admins add notification channels.")
    service = services.create_channel
    form_class = ChannelForm
    template_name = "console/channel_form.html"
    success_message = gettext_lazy("Channel %(name)s added.")

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def get_context_data(self, **extra):
        return {"active_section": "notifications", **extra}

    def message_params(self, result):
        return {"name": result.name}

    def get_success_url(self, result):
        return channel_url(result)


class ChannelView(ServiceFormView):
    """The channel's page: its settings (a form for those who may change them) and deliveries."""

    http_method_names = ["get", "post"]
    allowed = services.may_open_channels
    denied_message = DENIED
    service = services.update_channel
    form_class = ChannelForm
    template_name = "console/channel.html"
    success_message = gettext_lazy("Channel %(name)s saved.")

    def get_object(self):
        return get_channel(self.request.user, self.kwargs["pk"])

    def get_form_kwargs(self):
        return {"user": self.request.user, "channel": self.object}

    def get_context_data(self, **extra):
        return {
            "active_section": "notifications",
            "channel": self.object,
            "may_manage": services.may_manage(self.request.user, self.object.tenant_id),
            "deliveries": self.object.deliveries.all()[:RECENT],
            **extra,
        }

    def get_success_url(self, result):
        return resolve_url(self.success_url) if self.success_url else channel_url(self.object)


class ChannelActionView(ChannelView):
    http_method_names = ["post"]
    errors_as_message = True
    form_class = None

    def render_page(self, form, status):
        return render(
            self.request,
            self.template_name,
            self.get_context_data(form=ChannelForm(**super().get_form_kwargs())),
            status=status,
        )


channel_add = ChannelAddView.as_view()
channel = ChannelView.as_view()
channel_delete = ChannelActionView.as_view(
    service=services.delete_channel,
    success_message=gettext_lazy("Channel %(name)s removed."),
    success_url="console:channel_list",
)
channel_test = ChannelActionView.as_view(
    service=services.test_channel, success_message=gettext_lazy("A test message to %(name)s is on its way.")
)
