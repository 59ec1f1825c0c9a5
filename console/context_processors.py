from typing import Any

from django.http import HttpRequest

from console import navigation
from console.accounts import roles
from console.notifications.notifications import unread_count


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_sections": navigation.visible_sections(user),
        "unread_count": unread_count(user),
        "role_label": roles.role_names(roles.role_label(user)),
        "can_read_oplog": roles.can_read_operation_log(user),
        "can_use_admin": roles.can_use_admin(user),
        **tenant_switcher(request),
    }


def tenant_switcher(request: HttpRequest) -> dict[str, Any]:
    """The user's tenants for the header, and the one they work in (chosen, else first)."""
    memberships = roles.memberships(request.user)
    chosen = request.session.get("tenant")
    current = next((m for m in memberships if m.tenant_name == chosen), memberships[0] if memberships else None)
    return {"tenant_memberships": memberships, "current_tenant": current}
