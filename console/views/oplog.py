import csv
import json

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from console import actions
from console.accounts import roles
from console.accounts.access import require
from console.choices import OperationResult
from console.forms import OperationLogFilterForm
from console.oplog import oplog
from console.oplog.filters import filter_operation_log
from console.oplog.models import ChainVerification
from console.views.htmx import is_partial

PAGE_SIZE = 50
CSV_COLUMNS = [
    "id",
    "started_at",
    "finished_at",
    "actor_name",
    "actor_role",
    "tenant",
    "action",
    "cluster",
    "namespace",
    "target_kind",
    "target_name",
    "result",
    "error",
    "request_id",
    "source_ip",
    "user_agent",
    "before",
    "after",
    "payload",
    "prev_hash",
    "entry_hash",
]
must_read_oplog = require(
    roles.can_read_operation_log, gettext_lazy("Only operators and auditors read the operation log.")
)


def _filtered(request):
    """(form, entries) or (form, None) when the query string does not parse."""
    form = OperationLogFilterForm(request.GET)
    if not form.is_valid():
        return form, None
    return form, filter_operation_log(form.cleaned_data)


@require_GET
@must_read_oplog
def oplog_list(request):
    form, entries = _filtered(request)
    context = {"form": form, "verification": ChainVerification.objects.filter(requested_by=request.user).first()}
    if entries is None:
        return render(request, "console/oplog.html", context, status=400)
    page = Paginator(entries, PAGE_SIZE).get_page(form.cleaned_data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(page=page, query=query.urlencode(), results=OperationResult, partial=is_partial(request))
    template = "console/_oplog_table.html" if context["partial"] else "console/oplog.html"
    return render(request, template, context)


@require_GET
@must_read_oplog
def oplog_export(request):
    form, entries = _filtered(request)
    if entries is None:
        return render(request, "console/oplog.html", {"form": form}, status=400)
    filters = {key: str(value) for key, value in form.cleaned_data.items() if value not in (None, "") and key != "page"}
    oplog.record(
        request.user,
        "oplog.export",
        result=OperationResult.SUCCEEDED,
        target={"kind": "OperationLog"},
        payload={"filters": filters},
    )
    response = StreamingHttpResponse(_csv_rows(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="operation-log-{stamp}.csv"'
    return response


class _Echo:
    def write(self, value):
        return value


def _csv_rows(entries):
    writer = csv.writer(_Echo())
    yield "\ufeff"  # lets spreadsheet programs read the Chinese text as UTF-8
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries.order_by("id").iterator(chunk_size=2000):
        yield writer.writerow([_csv_value(getattr(entry, column)) for column in CSV_COLUMNS])


def _csv_value(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    # Spreadsheet formula injection: a cell must not start with a formula character.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@require_POST
@must_read_oplog
def oplog_verify(request):
    verification = actions.request_verification(acting_user=request.user)
    return render(request, "console/_verification.html", {"verification": verification})
