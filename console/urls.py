from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from console.views import accounts, channels, clusters, jobs, notifications, oplog, resources, shell

console_patterns = [
    path("", shell.dashboard, name="dashboard"),
    path("dashboard/panels/<slug:key>/", shell.dashboard_panel, name="dashboard_panel"),
    path("login/", accounts.login_view, name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("account/password/", accounts.password_change_view, name="password_change"),
    path("sections/<slug:key>/", shell.section, name="section"),
    path("clusters/", clusters.cluster_list, name="cluster_list"),
    path("clusters/add/", clusters.cluster_add, name="cluster_add"),
    path("clusters/<slug:name>/", clusters.cluster_detail, name="cluster"),
    path("clusters/<slug:name>/refresh/", clusters.cluster_refresh, name="cluster_refresh"),
    path("clusters/<slug:name>/remove/", clusters.cluster_remove, name="cluster_remove"),
    path("clusters/<slug:name>/resources/", resources.resource_index, name="resource_index"),
    path("clusters/<slug:name>/resources/<str:kind>/", resources.resource_list, name="resource_list"),
    path(
        "clusters/<slug:name>/resources/<str:kind>/<str:namespace>/<str:obj_name>/",
        resources.resource_detail,
        name="resource",
    ),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel, name="job_cancel"),
    path("oplog/", oplog.oplog_list, name="oplog"),
    path("oplog/export.csv", oplog.oplog_export, name="oplog_export"),
    path("oplog/verify/", oplog.oplog_verify, name="oplog_verify"),
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification_read"),
    path("notifications/read-all/", notifications.notification_read_all, name="notification_read_all"),
    path("notifications/notice/", notifications.notice_send, name="notice_send"),
    path("notifications/channels/", channels.channel_list, name="channel_list"),
    path("notifications/channels/add/", channels.channel_add, name="channel_add"),
    path("notifications/channels/<int:pk>/", channels.channel, name="channel"),
    path("notifications/channels/<int:pk>/delete/", channels.channel_delete, name="channel_delete"),
    path("notifications/channels/<int:pk>/test/", channels.channel_test, name="channel_test"),
]


def favicon(request):
    """Browsers ask for /favicon.ico wherever a page names no icon (a CSV download, a JSON answer)."""
    return redirect(static("img/favicon.svg"), permanent=True)


urlpatterns = [
    path("favicon.ico", favicon),
    path("", include((console_patterns, "console"))),
    path("tenants/", include("tenants.urls")),
    path("workloads/", include("workloads.urls")),
    path("storage/", include("workloads.storage.urls")),
    path("logs/", include("monitoring.logs.urls")),
    path("templates/", include("workloads.stacks.urls")),
    path("pipelines/", include("workloads.pipelines.urls")),
    path("topology/", include("monitoring.topology.urls")),
    path("monitoring/", include("monitoring.metrics.urls")),
    path("alerts/", include("monitoring.alerts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler400 = "console.views.errors.bad_request"
handler403 = "console.views.errors.permission_denied"
handler404 = "console.views.errors.not_found"
handler500 = "console.views.errors.server_error"
