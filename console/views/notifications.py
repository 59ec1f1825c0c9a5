from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.notifications import notifications

from console.accounts import roles
from console.accounts.access import require
from console.forms import NoticeForm
from console.notifications.models import Notification
from console.views.htmx import is_partial

PAGE_SIZE = 30


@require_GET
@require()
def notification_list(request):
    page_number = request.GET.get("page", "1")
    if not page_number.isdigit():
        return render(request, "400.html", {"message": _("The page number must be a positive whole number.")}, status=400)
    return _render_list(request, int(page_number), NoticeForm() if roles.can_send_notice(request.user) else None)


def _render_list(request, page_number, notice_form, status=200):
    page = Paginator(Notification.objects.filter(user=request.user), PAGE_SIZE).get_page(page_number)
    # The first page follows new notifications (they go on top); later pages stay still.
    live_group = notifications.list_group(request.user.pk) if page.number == 1 else ""
    context = {"page": page, "notice_form": notice_form, "live_group": live_group}
    return render(request, "console/notification_list.html", context, status=status)


@require_POST
@require()
def notification_read(request, pk):
    try:
        notification = notifications.mark_read(pk, acting_user=request.user)
    except ValueError as exc:
        return render(request, "404.html", {"message": str(exc)}, status=404)
    if is_partial(request):
        return render(request, "console/_notification_row.html", {"notification": notification, "oob_badge": True})
    return redirect("console:notification_list")


@require_POST
@require()
def notification_read_all(request):
    count = notifications.mark_all_read(acting_user=request.user)
    messages.success(request, _("%(count)s notifications marked read.") % {"count": count})
    return redirect("console:notification_list")


@require_http_methods(["GET", "POST"])
@require(roles.can_send_notice, _("Only operators send notices."))
def notice_send(request):
    if request.method == "GET":  # the address opened in a browser: the form is on the notifications page
        return redirect("console:notification_list")
    form = NoticeForm(request.POST)
    if form.is_valid():
        try:
            sent = notifications.send_notice(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Notice sent to %(count)s users.") % {"count": len(sent)})
            return redirect("console:notification_list")
    return _render_list(request, 1, form, status=400)
