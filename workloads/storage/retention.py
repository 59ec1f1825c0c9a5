"""Which scheduled backups a policy keeps: of the last `daily` days that have a scheduled
backup, the newest node of each day; of the last `weekly` ISO weeks that have one, the newest
node of each week (restic's and Proxmox's "keep-daily"/"keep-weekly"). Days and weeks are the
tenant's, counted by the slot each node was made for (Backup.scheduled_for), so a missed run
costs no kept backup. Plain data in, plain data out: the tests call it without Ceph."""

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any, Protocol


class Node(Protocol):
    pk: Any
    scheduled_for: datetime


def _newest_per_period(ordered: list[Node], count: int, period: Callable[[datetime], Any], zone: tzinfo) -> set:
    keep, seen = set(), set()
    for node in ordered:
        key = period(node.scheduled_for.astimezone(zone))
        if key in seen:
            continue
        if len(seen) >= count:
            break
        seen.add(key)
        keep.add(node.pk)
    return keep


def kept(nodes: Iterable[Node], *, daily: int, weekly: int, zone: tzinfo) -> set:
    """The pks of the nodes to keep (nodes: the policy's succeeded ones)."""
    ordered = sorted(nodes, key=lambda node: (node.scheduled_for, node.pk), reverse=True)
    return _newest_per_period(ordered, daily, lambda moment: moment.date(), zone) | _newest_per_period(
        ordered, weekly, lambda moment: moment.isocalendar()[:2], zone
    )
