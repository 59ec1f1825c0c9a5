from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _

from console.accounts import roles
from console.choices import OperationResult


class ConsoleAdminSite(admin.AdminSite):
    """The Django admin, for operators only."""

    site_header = "CaaS Console admin"

    def has_permission(self, request):
        return roles.can_use_admin(request.user)

    def login(self, request, extra_context=None):
        """One sign-in page for the whole console."""
        from django.contrib.auth.views import redirect_to_login  # needs the app registry

        if request.user.is_authenticated:
            # Signed in but not an operator: the console's sign-in page would send them
            # straight back here (a redirect loop). Refuse instead.
            request.oplog_result = OperationResult.DENIED
            raise PermissionDenied(_("The admin is for platform operators only."))
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"), login_url=reverse("console:login"))


class ConsoleAdminConfig(AdminConfig):
    default_site = "console.admin_site.ConsoleAdminSite"
