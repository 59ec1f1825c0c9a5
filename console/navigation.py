"""The shell's sections: the side bar and the "not built yet" pages.

The core registers its own sections below; each feature app registers its sections with
`register_section` in its AppConfig.ready(), so the core names no feature app. A section
without `url_name` is a placeholder: its page says plainly that it is not built yet. The
module that builds it registers the same key with its list page, and that replaces the
placeholder whichever registers first. `order` places a section in the side bar.

    # monitoring/logs/apps.py, in ready(): the Logs placeholder of `monitoring` is built now
    navigation.register_section("logs", _("Logs"), "logs:search", _("..."), order=55)
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from console.accounts import roles

Label = str | Promise
MayOpen = Callable[[Any], bool]  # may_open(user)


def signed_in(user: Any) -> bool:
    return user.is_authenticated


@dataclass(frozen=True)
class Section:
    key: str
    label: Label
    url_name: str | None  # None: not built yet
    description: Label = ""
    # Who may open the section's page: the navigation shows each role only what it may open
    # (the view checks again, on the server).
    may_open: MayOpen = signed_in
    order: int = 50

    @property
    def built(self) -> bool:
        return self.url_name is not None

    @property
    def url(self) -> str:
        return reverse(self.url_name) if self.url_name else reverse("console:section", args=[self.key])


_sections: dict[str, Section] = {}


def register_section(
    key: str,
    label: Label,
    url_name: str | None = None,
    description: Label = "",
    *,
    may_open: MayOpen = signed_in,
    order: int = 50,
) -> None:
    """Add a section to the side bar; without `url_name`, a placeholder for a later module.
    A built section is never replaced by a placeholder."""
    current = _sections.get(key)
    if current is not None and current.built and url_name is None:
        return
    _sections[key] = Section(key, label, url_name, description, may_open, order)


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))


def visible_sections(user: Any) -> list[Section]:
    return [s for s in sections() if s.may_open(user)]


def section(key: str) -> Section | None:
    return _sections.get(key)


def may_see_clusters(user: Any) -> bool:
    return roles.is_operator(user) or roles.is_auditor(user)


register_section("dashboard", _("Dashboard"), "console:dashboard", order=0)
register_section(
    "clusters",
    _("Clusters"),
    "console:cluster_list",
    _("Cluster registry, nodes and control-plane health."),
    may_open=may_see_clusters,
    order=10,
)
register_section("oplog", _("Operation log"), "console:oplog", may_open=roles.can_read_operation_log, order=90)
register_section("notifications", _("Notifications"), "console:notification_list", order=100)
