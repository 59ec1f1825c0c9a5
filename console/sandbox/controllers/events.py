"""The event recorder: Events in the store, repeats counted on one object, the oldest
deleted past `max_events`."""

import time
from collections import deque

from ..errors import ApiError
from ..kinds import STORED
from ..store import now_iso


class EventRecorder:
    def __init__(self, store, max_events: int) -> None:
        self.store = store
        self.max_events = max_events
        self.index = {}  # (uid, reason, message) -> (namespace, event name)
        self.order = deque()

    def record(
        self,
        obj: dict,
        reason: str,
        message: str,
        kind: str = "Normal",
        component: str = "",
        host: str | None = None,
        field_path: str | None = None,
        aggregate: bool = False,
    ) -> None:
        """Record an event, or count one more of the same. aggregate: one event per object and
        reason whatever the message (failed creations name a new pod each retry), as the
        event recorder combines similar events."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid"), reason, "" if aggregate else message)
        at = now_iso()
        existing = self.index.get(key)
        if existing and self.store.exists(STORED["events"], existing[0], existing[1]):

            def bump(ev):
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = at
                ev["message"] = message

            self.store.mutate(STORED["events"], existing[0], existing[1], bump)
            return
        involved = {
            "kind": obj.get("kind"),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "apiVersion": obj.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        if not involved["namespace"]:
            del involved["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        name = f"{meta.get('name')}.{time.time_ns():x}"[:253]
        body = {
            "metadata": {"name": name},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": {"component": component} | ({"host": host} if host else {}),
            "firstTimestamp": at,
            "lastTimestamp": at,
            "count": 1,
            "type": kind,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        try:
            self.store.create(STORED["events"], namespace, body)
        except ApiError:
            return
        self.index[key] = (namespace, name)
        self.order.append((key, namespace, name))
        while len(self.order) > self.max_events:
            old_key, old_ns, old_name = self.order.popleft()
            self.index.pop(old_key, None)
            try:
                self.store.delete(STORED["events"], old_ns, old_name)
            except ApiError:
                pass
