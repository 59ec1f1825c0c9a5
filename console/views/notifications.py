from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from console import actions
from console.accounts import roles
from console.accounts.access import require
from console.forms import NoticeForm
from console.notification_channels import services as channel_services
from console.notifications import notifications
from console.notifications.models import Notification
from console.views.generic import ServiceFormView
from console.views.htmx import is_partial

PAGE_SIZE = 30


@require_GET
@require()
def notification_list(request):
    page_number = request.GET.get("page", "1")
    if not page_number.isdigit():
        return render(
            request, "400.html", {"message": _("The page number must be a positive whole number.")}, status=400
        )
    notice_form = NoticeForm() if roles.can_send_notice(request.user) else None
    return render(request, "console/notification_list.html", list_context(request, int(page_number), notice_form))


def list_context(request, page_number, notice_form):
    page = Paginator(Notification.objects.filter(user=request.user), PAGE_SIZE).get_page(page_number)
    # The first page follows new notifications (they go on top); later pages stay still.
    live_group = notifications.list_group(request.user.pk) if page.number == 1 else ""
    return {
        "page": page,
        "notice_form": notice_form,
        "live_group": live_group,
        "may_open_channels": channel_services.may_open_channels(request.user),
    }


@require_POST
@require()
def notification_read(request, pk):
    try:
        notification = actions.mark_read(pk, acting_user=request.user)
    except ValueError as exc:
        return render(request, "404.html", {"message": str(exc)}, status=404)
    if is_partial(request):
        return render(request, "console/_notification_row.html", {"notification": notification, "oob_badge": True})
    return redirect("console:notification_list")


@require_POST
@require()
def notification_read_all(request):
    count = actions.mark_all_read(acting_user=request.user)
    messages.success(request, _("%(count)s notifications marked read.") % {"count": count})
    return redirect("console:notification_list")


class NoticeSendView(ServiceFormView):
    """The operators' notice, sent from the notifications page (where a refused one comes back)."""

    http_method_names = ["get", "post"]
    allowed = roles.can_send_notice
    denied_message = gettext_lazy("Only operators send notices.")
    service = actions.send_notice
    form_class = NoticeForm
    form_name = "notice_form"
    template_name = "console/notification_list.html"
    success_message = gettext_lazy("Notice sent to %(count)s users.")
    success_url = "console:notification_list"

    def get(self, request, *args, **kwargs):  # the address opened in a browser: the form is on the notifications page
        return redirect(self.success_url)

    def get_context_data(self, **extra):
        return {**list_context(self.request, 1, None), **extra}

    def message_params(self, sent):
        return {"count": len(sent)}


notice_send = NoticeSendView.as_view()
