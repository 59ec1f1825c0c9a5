from datetime import datetime

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.accounts import roles
from console.accounts.models import User
from console.choices import OperationResult
from console.notifications.models import Notification
from console.oplog import oplog
from console.oplog.models import ChainVerification, OperationLogEntry


def _plain(value):
    """A form value as the operation log keeps it (JSON): objects by their names."""
    if isinstance(value, (list, tuple, models.QuerySet)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat(timespec="seconds")
        )
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _changed_fields(form):
    """What the operator changed. The admin's date and time inputs show whole seconds, so
    a saved form sees every timestamp with microseconds (date_joined) as changed: not kept."""
    for name in form.changed_data:
        before, after = form.initial.get(name), form.cleaned_data.get(name)
        if (
            isinstance(before, datetime)
            and isinstance(after, datetime)
            and before.replace(microsecond=0) == after.replace(microsecond=0)
        ):
            continue
        yield name


def _form_errors(errors):
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


def _target(obj):
    return {"kind": obj._meta.object_name, "name": str(obj)}


class OperatorAdmin(admin.ModelAdmin):
    """Model permissions follow the platform role, not Django's per-model permissions.
    Every change made here lands in the operation log as admin.<model>.add/change/delete,
    with the changed fields before and after (passwords masked like every secret)."""

    def save_model(self, request, obj, form, change):
        fields = list(_changed_fields(form))
        action = f"admin.{obj._meta.model_name}.{'change' if change else 'add'}"
        with oplog.recorded(request.user, action, target=_target(obj)) as outcome:
            outcome.before = {name: _plain(form.initial.get(name)) for name in fields} if change else None
            outcome.after = {name: _plain(form.cleaned_data.get(name)) for name in fields}
            super().save_model(request, obj, form, change)
            outcome.target = _target(obj)

    def delete_model(self, request, obj):
        with oplog.recorded(request.user, f"admin.{obj._meta.model_name}.delete", target=_target(obj)) as outcome:
            outcome.before = {"id": obj.pk, "name": str(obj)}
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:  # one entry per object, as if deleted one by one
            self.delete_model(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A refused form is answered 200 with its errors: record it as failed, not done."""
        response = super().changeform_view(request, object_id, form_url, extra_context)
        adminform = (getattr(response, "context_data", None) or {}).get("adminform")
        if request.method == "POST" and adminform is not None and adminform.form.errors:
            request.oplog_result = OperationResult.FAILED
            request.oplog_error = _form_errors(adminform.form.errors)
        return response

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
    fieldsets = UserAdmin.fieldsets + ((_("Console"), {"fields": ("platform_role", "must_change_password")}),)
    add_fieldsets = UserAdmin.add_fieldsets + ((_("Console"), {"fields": ("platform_role",)}),)

    def user_change_password(self, request, id, form_url=""):
        """An operator setting someone's password: logged with whose, never with the password."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST":
            form = (getattr(response, "context_data", None) or {}).get("form")
            errors = form.errors if form is not None and response.status_code == 200 else {}
            user = self.get_object(request, unquote(id))
            if not errors and user is not None and user.pk != request.user.pk:
                # a password someone else chose is a one-time password: its owner picks their own at next sign-in
                type(user).objects.filter(pk=user.pk).update(must_change_password=True)
            oplog.record(
                request.user,
                "admin.user.password_change",
                target=_target(user),
                result=OperationResult.FAILED if errors else OperationResult.SUCCEEDED,
                error=_form_errors(errors),
            )
        return response


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
