"""Logs pages and the ingest endpoint. Thin: parse, call the store or a service, render."""

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from console.accounts import roles
from console.accounts.access import call_service, require
from console.body_limits import body_limit
from console.clusters.models import Cluster
from console.middleware import machine_endpoint
from console.views.generic import ServiceFormView
from console.views.htmx import is_partial
from tenants import access
from tenants.models import Tenant

from . import ingest, live, manifests, services
from .backends import default_store
from .forms import LogSearchForm, SavedSearchForm
from .models import SavedSearch
from .store import Query, make_cursor, parse_cursor

signed_in = require()
SECTION = {"active_section": "logs"}
PAGE_SIZE = 100
BUCKETS = 40
CONTEXT_LINES = 5
operators_only = require(roles.is_operator, gettext_lazy("Only operators manage ingest tokens."))


# --- who sees what ----------------------------------------------------------------------


def scope_of(user):
    """None: every namespace (operators, auditors); else the (cluster id, namespace) pairs of the user's tenants."""
    if access.may_see_all(user):
        return None
    return list(access.visible_projects(user).values_list("cluster_id", "name"))


def visible_clusters(user):
    if access.may_see_all(user):
        return Cluster.objects.all()
    return Cluster.objects.filter(pk__in=access.visible_projects(user).values("cluster_id")).distinct()


def require_reader(user):
    if not access.may_see_all(user) and not roles.memberships(user):
        raise PermissionDenied(_("You belong to no tenant."))


def search_form(request, data):
    user = request.user
    return LogSearchForm(
        data,
        clusters=visible_clusters(user),
        tenants=Tenant.objects.all() if access.may_see_all(user) else None,
    )


def query_of(form, scope):
    data = form.cleaned_data
    return Query(
        start=data["start"],
        end=data["end"],
        scope=scope,
        cluster_id=data["cluster"].pk if data.get("cluster") else None,
        tenant_id=data["tenant"].pk if data.get("tenant") else None,
        namespace=data["namespace"],
        app=data["app"],
        pod=data["pod"],
        container=data["container"],
        source=data["source"],
        levels=data["level"],
        words=data["q"],
        substring=data["substring"],
    )


def highlighter(form):
    """Wrap what the search matched in <mark>: the words and the substring, case-insensitively."""
    terms = []
    data = form.cleaned_data
    if data.get("substring"):
        terms.append(data["substring"])
    for word in re.findall(r'"([^"]+)"|(\S+)', data.get("q") or ""):
        text = word[0] or word[1]
        if text.lower() != "or" and not text.startswith("-"):
            terms.append(text)
    if not terms:
        return lambda text: escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)

    def mark(text):
        out, last = [], 0
        for match in pattern.finditer(text):
            out.append(escape(text[last : match.start()]))
            out.append(f"<mark>{escape(match.group(0))}</mark>")
            last = match.end()
        out.append(escape(text[last:]))
        return mark_safe("".join(out))

    return mark


def line_rows(lines, mark, clusters):
    return [
        {
            "line": line,
            "html": mark(line.message),
            "cluster": clusters.get(line.cluster_id, ""),
            "cursor": make_cursor(line),
            # an event: the logs of its namespace around its time
            "around": services.around_url(
                moment=line.ts, cluster=clusters.get(line.cluster_id, ""), namespace=line.namespace
            )
            if line.source == "event"
            else "",
        }
        for line in lines
    ]


def cluster_names():
    return dict(Cluster.objects.values_list("pk", "name"))


# --- the search page --------------------------------------------------------------------


@require_GET
@signed_in
def search(request):
    require_reader(request.user)
    data = request.GET.copy()
    data.setdefault("range", "1h")  # what an empty query means; shown selected
    form = search_form(request, data)
    context = {**SECTION, "form": form, "saved": SavedSearch.objects.filter(user=request.user)}
    if not form.is_valid():
        return render(request, "logs/search.html", context, status=400)
    store = default_store()
    query = query_of(form, scope_of(request.user))
    page = store.search(query, limit=PAGE_SIZE, cursor=form.cleaned_data["cursor"])
    params = request.GET.copy()
    params.pop("cursor", None)
    mark = highlighter(form)
    context.update(
        rows=line_rows(page.lines, mark, cluster_names()),
        page=page,
        more_url=more_url(params, form, page),
        query_string=params.urlencode(),
        save_form=SavedSearchForm(initial={"query": params.urlencode()}),
    )
    if is_partial(request) and form.cleaned_data["cursor"]:
        return render(request, "logs/_lines.html", context)
    # The histogram comes in its own request (htmx, once the page is there): counting every
    # match of a wide range costs more than the page of lines, which never waits for it.
    context["histogram_url"] = f"{reverse('logs:histogram')}?{pinned(params, form).urlencode()}"
    return render(request, "logs/search.html", context)


@require_GET
@signed_in
def histogram(request):
    """The search's matches over its time range, in BUCKETS bars (the search page loads it)."""
    require_reader(request.user)
    form = search_form(request, request.GET)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    query = query_of(form, scope_of(request.user))
    result = default_store().histogram(query, buckets=BUCKETS)
    counts, width = result
    estimated = result.estimated  # a sample's counts, scaled
    total = sum(n for _b, n in counts)
    peak = max((n for _b, n in counts), default=0) or 1
    bars = []
    for index, (start, n) in enumerate(counts):
        height = max(1, round(40 * n / peak)) if n else 0
        bars.append({"start": start, "count": n, "x": index * 10 + 0.5, "y": 40 - height, "h": height})
    context = {
        "histogram": {
            "bars": bars,
            "view_width": len(bars) * 10,
            # an estimate to three significant digits: its last ones would claim a precision it lacks
            "total": round(total, 3 - len(str(total))) if estimated and total >= 1000 else total,
            "estimated": estimated,
            "width": width,
            "start": query.start,
            "end": query.end,
        }
    }
    return render(request, "logs/_histogram.html", context)


def pinned(params, form):
    """The query with its time range pinned (a relative range would move while one reads)."""
    pinned = params.copy()
    pinned.pop("range", None)
    pinned.pop("cursor", None)
    pinned["start"] = form.cleaned_data["start"].isoformat()
    pinned["end"] = form.cleaned_data["end"].isoformat()
    return pinned


def more_url(params, form, page):
    """The next page: the same window pinned (a relative range would move while one reads)."""
    if not page.more:
        return ""
    query = pinned(params, form)
    query["cursor"] = page.next_cursor
    return f"{reverse('logs:search')}?{query.urlencode()}"


@require_GET
@signed_in
def line_context(request):
    """The lines of the same container around one line (htmx, under the line)."""
    require_reader(request.user)
    position = parse_cursor(request.GET.get("line", ""))
    if position is None:
        return HttpResponse(
            _("Which line? The link is incomplete."), status=400, content_type="text/plain; charset=utf-8"
        )
    ts, line_id = position
    window = timedelta(hours=1)
    scope = scope_of(request.user)
    store = default_store()
    line = store.get(line_id, ts, Query(start=ts, end=ts + timedelta(microseconds=1), scope=scope))
    if line is None:
        raise Http404("no such line")
    around = Query(
        start=ts - window,
        end=ts + window,
        scope=scope,
        cluster_id=line.cluster_id,
        namespace=line.namespace,
        pod=line.pod,
        container=line.container,
        source=line.source,
    )
    lines = store.context(line_id, ts, around, before=CONTEXT_LINES, after=CONTEXT_LINES)
    rows = [{"line": each, "html": escape(each.message), "hit": each.id == line_id} for each in lines]
    return render(request, "logs/_context.html", {"rows": rows, "line": line})


# --- one app's timeline: the archive, then new lines live over the socket (live.py) ------

TIMELINE_LINES = 200


@require_GET
@signed_in
def app_timeline(request, tenant, namespace, app):
    """The app's lines of the last hour; the page's socket then follows new ones (live.py)."""
    project = access.get_project(request.user, tenant, namespace)  # another tenant's: 404
    now = timezone.now()
    query = Query(
        start=now - live.ARCHIVE_WINDOW,
        end=now + timedelta(minutes=5),
        scope=scope_of(request.user),
        cluster_id=project.cluster_id,
        namespace=project.name,
        app=app,
    )
    store = default_store()
    # before reading the archive: what commits later is followed
    since = store.horizon() if hasattr(store, "horizon") else None
    lines = list(reversed(store.search(query, limit=TIMELINE_LINES).lines))
    context = {
        **SECTION,
        "project": project,
        "tenant": project.tenant,
        "app": app,
        "rows": live.rows([live.entry_of_line(line) for line in lines]),
        "socket_url": live.socket_path(
            project.tenant.name, project.name, app, since=since, start=lines[-1].ts if lines else query.start
        ),
        "search_url": reverse("logs:search") + "?" + urlencode({"namespace": project.name, "app": app, "range": "1h"}),
    }
    return render(request, "logs/app_timeline.html", context)


# --- saved searches ---------------------------------------------------------------------


class SavedSearchAddView(ServiceFormView):
    service = services.save_search
    form_class = SavedSearchForm
    form_name = "save_form"
    template_name = "logs/search.html"
    errors_as_message = True
    invalid_message = gettext_lazy(
        "The search was not saved: it needs a name of at most 100 characters and a search of at most 2,000."
    )
    success_message = gettext_lazy("Search %(name)s saved.")

    def get_context_data(self, **extra):
        form = search_form(self.request, None)
        return {**SECTION, "form": form, "saved": SavedSearch.objects.filter(user=self.request.user), **extra}

    def message_params(self, result):
        return {"name": result.name}

    def get_success_url(self, result):
        return f"{reverse('logs:search')}?{result.query}"


saved_search_add = SavedSearchAddView.as_view()


@require_POST
@signed_in
def saved_search_delete(request, pk):
    search_row = get_object_or_404(SavedSearch, pk=pk, user=request.user)  # another's: 404
    call_service(request, services.delete_search, search_row)
    return redirect("logs:search")


@require_GET
@signed_in
def saved_search_open(request, pk):
    search_row = get_object_or_404(SavedSearch, pk=pk, user=request.user)
    return redirect(f"{reverse('logs:search')}?{search_row.query}")


# --- ingest tokens and the collector's manifest ----------------------------------------


@require_POST
@operators_only
def token_rotate(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    token = call_service(request, services.rotate_token, cluster)
    ingest_url = request.build_absolute_uri(reverse("logs:ingest"))
    return render(
        request,
        "logs/token.html",
        {
            "active_section": "clusters",
            "cluster": cluster,
            "token": token,
            "ingest_url": ingest_url,
            "fluentd": manifests.fluentd(cluster, ingest_url=ingest_url, token=token),
            "fluent_bit": manifests.fluent_bit(cluster, ingest_url=ingest_url, token=token),
        },
    )


@require_POST
@require(roles.is_operator, gettext_lazy("Only operators install collectors."))
def collector_install(request, name):
    """Install the fluentd DaemonSet with a new token, as a job: its page follows the steps."""
    cluster = get_object_or_404(Cluster, name=name)
    job = call_service(
        request, services.install_collector, cluster, ingest_url=request.build_absolute_uri(reverse("logs:ingest"))
    )
    messages.success(request, _("Installing the log collector on %(name)s.") % {"name": cluster.name})
    return redirect("console:job", pk=job.pk)


@require_GET
@operators_only
def collector_manifest(request, name):
    """The fluentd DaemonSet for a cluster, with a placeholder where its token goes."""
    cluster = get_object_or_404(Cluster, name=name)
    ingest_url = request.build_absolute_uri(reverse("logs:ingest"))
    text = manifests.fluentd(cluster, ingest_url=ingest_url, token=manifests.TOKEN_PLACEHOLDER)
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fluentd-{cluster.name}.yaml"'
    return response


def app_panel(request, app):
    """The app page's link to its logs (the page has checked the user may see the app)."""
    project = app.project
    return {
        "timeline_url": reverse("logs:app_timeline", args=[project.tenant.name, project.name, app.name]),
        "search_url": reverse("logs:search") + "?" + urlencode({"namespace": project.name, "app": app.name}),
    }


def cluster_panel(request, cluster):
    """The cluster page's Logs panel: the token and what the ingest endpoint did."""
    from .models import IngestToken, UnknownTokenCounter

    counters = services.counters(cluster)
    return {
        "cluster": cluster,
        "logs_token": IngestToken.objects.filter(cluster=cluster).first(),
        "logs_counters": [
            (outcome, label, counters.get(outcome)) for outcome, label in COUNTER_LABELS if outcome in counters
        ],
        "logs_unknown": UnknownTokenCounter.objects.filter(pk=1).first(),
    }


COUNTER_LABELS = (
    (ingest.ACCEPTED, gettext_lazy("Lines stored")),
    (ingest.MALFORMED, gettext_lazy("Malformed batches")),
    (ingest.OVERSIZED, gettext_lazy("Batches with an oversized line")),
    (ingest.TOO_LARGE, gettext_lazy("Batches too large")),
    (ingest.UNSUPPORTED, gettext_lazy("Batches in an unsupported format")),
    (ingest.BUSY, gettext_lazy("Batches deferred (429)")),
    (ingest.EXPIRED, gettext_lazy("Lines older than the retention")),
)


# --- the ingest endpoint ----------------------------------------------------------------


def _refuse(status, message, **headers):
    response = JsonResponse({"error": str(message)}, status=status)
    for key, value in headers.items():
        response[key.replace("_", "-")] = value
    return response


@machine_endpoint
@body_limit(lambda: settings.LOGS_INGEST_MAX_BODY_BYTES)
@csrf_exempt
@require_POST
def ingest_endpoint(request):
    """POST a batch with `Authorization: Bearer <cluster token>`. Synchronous on purpose: it runs
    on one of the request threads (console/request_threads.py), never on the event loop, and
    answers 200 only once the batch is committed. A body sent without Content-Length (chunked)
    reaches here cut one byte past the limit (console/body_limits.py) and is refused below."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("X-Ingest-Token", "")
    cluster_id = services.cluster_for_token(token)
    if cluster_id is None:
        services.count_unknown(request.META.get("REMOTE_ADDR", ""))
        return _refuse(401, _("Unknown or missing ingest token: rotate one on the cluster's page."))
    limit = settings.LOGS_INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        services.count(cluster_id, ingest.TOO_LARGE, 1, "Content-Length over the limit")
        return _refuse(
            413, _("The batch is larger than %(mb)s MB: flush smaller chunks.") % {"mb": limit // (1024 * 1024)}
        )
    body = request.read(limit + 1)
    if len(body) > limit:
        services.count(cluster_id, ingest.TOO_LARGE, 1, "body over the limit")
        return _refuse(
            413, _("The batch is larger than %(mb)s MB: flush smaller chunks.") % {"mb": limit // (1024 * 1024)}
        )
    try:
        stored = services.ingest_batch(
            cluster_id,
            body,
            content_type=request.headers.get("Content-Type", ""),
            content_encoding=request.headers.get("Content-Encoding", ""),
        )
    except ingest.IngestError as exc:
        if exc.status == 429:
            return _refuse(429, exc.message, Retry_After=str(settings.LOGS_INGEST_RETRY_AFTER_SECONDS))
        return _refuse(exc.status, exc.message)
    return HttpResponse(json.dumps({"stored": stored}), content_type="application/json")
