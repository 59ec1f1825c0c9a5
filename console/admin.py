from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from . import roles
from .models import ChainVerification, Notification, OperationLogEntry, User


class OperatorAdmin(admin.ModelAdmin):
    """Model permissions follow the platform role, not Django's per-model permissions."""

    def has_module_permission(self, request):
        return roles.can_use_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return roles.can_use_admin(request.user)

    def has_add_permission(self, request):
        return roles.can_use_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return roles.can_use_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return roles.can_use_admin(request.user)


class ReadOnlyAdmin(OperatorAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class ConsoleUserAdmin(OperatorAdmin, UserAdmin):
    list_display = ("username", "email", "platform_role", "is_active", "last_login")
    list_filter = ("platform_role", "is_active")
    fieldsets = UserAdmin.fieldsets + ((_("Console"), {"fields": ("platform_role",)}),)
    add_fieldsets = UserAdmin.add_fieldsets + ((_("Console"), {"fields": ("platform_role",)}),)


@admin.register(Notification)
class NotificationAdmin(OperatorAdmin):
    list_display = ("title", "user", "level", "created_at", "read_at")
    list_filter = ("level",)


@admin.register(OperationLogEntry)
class OperationLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "started_at", "actor_name", "action", "result")
    list_filter = ("result",)
    search_fields = ("actor_name", "action", "target_name")


@admin.register(ChainVerification)
class ChainVerificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "requested_by", "status", "created_at", "checked", "first_broken_id")
