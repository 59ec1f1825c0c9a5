"""Objects, resourceVersions and watch events, as etcd and the API server keep them.

Stored objects are never changed in place: every write puts a new dict in their slot
(copy on write), so lists and watch events can hand out the stored dicts and serialise
them outside the lock. Callers from Python get deep copies from get()/list()/create()."""

import base64
import bisect
import copy
import json
import threading
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime

from . import managedfields
from .errors import ApiError, Expired, already_exists, bad_request, conflict, forbidden, not_found  # noqa: F401 (re-exported)
from .kinds import STORED
from .selectors import field_matcher, label_matcher

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
NO_GENERATION = {
    "configmaps",
    "secrets",
    "events",
    "endpoints",
    "serviceaccounts",
    "namespaces",
    "nodes",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "persistentvolumeclaims",
    "persistentvolumes",
    "storageclasses",
}


def now_iso():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(n=5):
    return "".join(NAME_CHARS[b % len(NAME_CHARS)] for b in uuid.uuid4().bytes[:n])


class WatchEvent:
    __slots__ = ("rv", "plural", "namespace", "type", "obj", "old", "_line")

    def __init__(self, rv, plural, namespace, event_type, obj, old=None):
        self.rv, self.plural, self.namespace, self.type, self.obj, self.old = (
            rv,
            plural,
            namespace,
            event_type,
            obj,
            old,
        )
        self._line = None

    def line(self):
        """The event as one line of a watch stream (serialised once, shared by all watchers)."""
        if self._line is None:
            self._line = (json.dumps({"type": self.type, "object": self.obj}, separators=(",", ":")) + "\n").encode()
        return self._line


class Subscription:
    """One watcher's queue: the store pushes matching events under its lock."""

    def __init__(self, plural, namespace, max_queue):
        self.plural, self.namespace, self.max_queue = plural, namespace, max_queue
        self.queue = deque()
        self.ready = threading.Event()
        self.closed = None  # why the store dropped this watcher

    def push(self, event):
        if len(self.queue) >= self.max_queue:
            self.closed = "watcher fell too far behind"
        else:
            self.queue.append(event)
        self.ready.set()

    def close(self, why):
        self.closed = why
        self.ready.set()


class Store:
    def __init__(self, event_window=50_000, max_watch_queue=200_000):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 0
        self.objects = {}  # (plural, namespace, name) -> object (never mutated in place)
        self.keys = defaultdict(list)  # plural -> sorted [(namespace, name)]
        self.by_uid = {}  # uid -> key
        self.dependents = defaultdict(set)  # owner uid -> keys of objects that name it in ownerReferences
        self.events = deque(maxlen=event_window)
        self.oldest_rv = 0  # watching from before this is 410 Gone
        self.subscriptions = set()
        self.max_watch_queue = max_watch_queue
        self.listeners = []  # callables(WatchEvent), called under the lock: controllers' work queues
        self.admit = None  # callable(operation, resource, obj, old) -> None; defaulting, validation, quota
        self.namespace_gate = True  # namespaced objects need an existing, non-terminating namespace
        self.kinds = dict(STORED)  # store key -> Resource; custom resources join when their CRD is established

    # --- bookkeeping

    def _bump(self):
        self.rv += 1
        return str(self.rv)

    def _emit(self, resource, event_type, obj, old=None):
        if len(self.events) == self.events.maxlen:
            self.oldest_rv = self.events[0].rv
        event = WatchEvent(self.rv, resource.key, obj["metadata"].get("namespace", ""), event_type, obj, old)
        self.events.append(event)
        for sub in self.subscriptions:
            if sub.plural == event.plural and (not sub.namespace or sub.namespace == event.namespace):
                sub.push(event)
        for listener in self.listeners:
            listener(event)
        self.changed.notify_all()

    def _index_refs(self, key, obj, add):
        for ref in obj["metadata"].get("ownerReferences") or ():
            uid = ref.get("uid")
            if uid:
                if add:
                    self.dependents[uid].add(key)
                else:
                    keys = self.dependents.get(uid)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del self.dependents[uid]

    def _put(self, resource, key, obj, old):
        """Commit obj in its slot (new or replacing old) and announce it."""
        self.objects[key] = obj
        if old is None:
            bisect.insort(self.keys[resource.key], key[1:])
            self.by_uid[obj["metadata"]["uid"]] = key
        else:
            self._index_refs(key, old, False)
        self._index_refs(key, obj, True)
        self._emit(resource, "ADDED" if old is None else "MODIFIED", obj, old)

    @staticmethod
    def key(resource, namespace, name):
        return (resource.key, namespace if resource.namespaced else "", name)

    # --- reads

    def get_ref(self, resource, namespace, name):
        """The stored object itself (do not change it) or None."""
        return self.objects.get(self.key(resource, namespace, name))

    def get(self, resource, namespace, name):
        with self.lock:
            obj = self.objects.get(self.key(resource, namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def exists(self, resource, namespace, name):
        return self.key(resource, namespace, name) in self.objects

    def list_refs(self, resource, namespace="", label_selector="", field_selector="", limit=0, continue_token=""):
        """(stored objects, resourceVersion, continue token, remaining count or None)."""
        labels_ok = label_matcher(label_selector)
        fields_ok = field_matcher(field_selector, resource.key)
        start = ("", "")
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode() + b"=="))
                start, token_rv = tuple(token["start"]), int(token["rv"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid: illegal base64 data") from None
            del token_rv  # continuing lists walk the live keys after `start`; tokens do not expire
        with self.lock:
            rv = str(self.rv)
            keys = self.keys.get(resource.key) or []
            if namespace:
                lo = bisect.bisect_left(keys, (namespace, ""))
                hi = bisect.bisect_left(keys, (namespace + "\x00", ""))
            else:
                lo, hi = 0, len(keys)
            if continue_token:
                lo = max(lo, bisect.bisect_right(keys, start))
            items, next_token, plural = [], "", resource.key
            everything = not label_selector and not field_selector
            objects = self.objects
            index = lo
            while index < hi:
                ns, name = keys[index]
                obj = objects[(plural, ns, name)]
                index += 1
                if everything or (labels_ok(obj["metadata"].get("labels")) and fields_ok(obj)):
                    items.append(obj)
                    if limit and len(items) == limit:
                        break
            remaining = None
            if limit and len(items) == limit and index < hi:
                if everything:
                    remaining = hi - index
                last = items[-1]["metadata"]
                token = {"rv": int(rv), "start": [last.get("namespace", ""), last["name"]]}
                next_token = (
                    base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")
                )
                if not everything:  # only hand out a token when something could follow
                    probe = index
                    while probe < hi:
                        ns, name = keys[probe]
                        obj = objects[(plural, ns, name)]
                        if labels_ok(obj["metadata"].get("labels")) and fields_ok(obj):
                            break
                        probe += 1
                    else:
                        next_token = ""
            return items, rv, next_token, remaining

    def list(self, resource, namespace="", label_selector="", field_selector="", limit=0, continue_token=""):
        """(deep-copied items, resourceVersion, continue token)."""
        items, rv, token, _ = self.list_refs(resource, namespace, label_selector, field_selector, limit, continue_token)
        return [copy.deepcopy(i) for i in items], rv, token

    def count(self, resource, namespace=""):
        keys = self.keys.get(resource.key) or []
        if not namespace:
            return len(keys)
        return bisect.bisect_left(keys, (namespace + "\x00", "")) - bisect.bisect_left(keys, (namespace, ""))

    def iter_refs(self, resource, namespace=""):
        """Stored objects of a kind (a snapshot of the keys; objects may be gone by the time you look)."""
        with self.lock:
            keys = self.keys.get(resource.key) or []
            if namespace:
                keys = keys[
                    bisect.bisect_left(keys, (namespace, "")) : bisect.bisect_left(keys, (namespace + "\x00", ""))
                ]
            else:
                keys = list(keys)
        plural = resource.key
        for ns, name in keys:
            obj = self.objects.get((plural, ns, name))
            if obj is not None:
                yield obj

    def by_uid_ref(self, uid):
        key = self.by_uid.get(uid)
        return self.objects.get(key) if key else None

    def dependents_of(self, uid):
        with self.lock:
            return [self.objects[k] for k in self.dependents.get(uid, ()) if k in self.objects]

    # --- writes

    def _check_namespace(self, resource, namespace, name):
        if not resource.namespaced or not self.namespace_gate:
            return
        ns = self.objects.get(("namespaces", "", namespace))
        if ns is None:
            raise ApiError(
                404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
            )
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{resource.plural}{"." + resource.group if resource.group else ""} "{name}" is forbidden: '
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {
                    "name": name,
                    "group": resource.group,
                    "kind": resource.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def create(self, resource, namespace, obj, dry_run=False, manager=None, apply_manager=None, force=False):
        """A new object; `manager` records the create in managedFields (an Update), `apply_manager`
        makes it a server-side apply."""
        obj = copy.deepcopy(obj) if obj is not None else {}
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        if apply_manager:
            managedfields.check_config(resource, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        with self.lock:
            generated = not meta.get("name") and meta.get("generateName")
            for _attempt in range(8):
                if generated:
                    meta["name"] = meta["generateName"] + random_suffix()
                key = self.key(resource, namespace, meta.get("name") or "")
                if not (generated and key in self.objects):
                    break
            name = meta.get("name") or ""
            self._check_namespace(resource, namespace, name)
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            if resource.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            for field in (
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ):
                meta.pop(field, None)
            if resource.has_status and resource.key not in (
                "nodes",
                "persistentvolumes",
                "namespaces",
                "volumesnapshotcontents",
            ):
                obj["status"] = {}  # the main resource ignores status on create
            if apply_manager:
                obj = managedfields.apply(
                    managedfields.schema(self, resource), resource, None, obj, apply_manager, force, now_iso()
                )
                meta = obj["metadata"]
            if self.admit:
                self.admit("CREATE", resource, obj, None)
            if manager and not apply_manager:
                managedfields.update(managedfields.schema(self, resource), resource, None, obj, manager, now_iso())
            if key in self.objects:
                raise already_exists(resource, name)
            meta["uid"] = meta.get("uid") or str(uuid.uuid4())  # admission may have chosen it (Job selectors)
            meta["creationTimestamp"] = now_iso()
            if resource.key not in NO_GENERATION:
                meta["generation"] = 1
            if dry_run:
                return copy.deepcopy(obj)
            meta["resourceVersion"] = self._bump()
            self._put(resource, key, obj, None)
            return copy.deepcopy(obj)

    def insert_many(self, resource, objects):
        """Bulk load prepared objects (uid, timestamps filled here) without admission: for benchmarks."""
        with self.lock:
            for obj in objects:
                meta = obj["metadata"]
                meta["uid"] = str(uuid.uuid4())
                meta.setdefault("creationTimestamp", now_iso())
                meta["resourceVersion"] = self._bump()
                self._put(resource, self.key(resource, meta.get("namespace", ""), meta["name"]), obj, None)

    def update(
        self,
        resource,
        namespace,
        name,
        obj,
        status_only=False,
        dry_run=False,
        manager=None,
        subresource=None,
        check_rv=True,
        keep_status=False,
        managed_fields=None,
    ):
        """PUT semantics: replace the object (or, with status_only, only its status). `manager`
        records the write in managedFields (an Update through `subresource`, "status" for
        status_only); a server-side apply passes the managedFields it computed instead."""
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        with self.lock:
            key = self.key(resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                raise not_found(resource, name)
            body_meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            sent_rv = body_meta.get("resourceVersion")
            if check_rv and sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            if body_meta.get("uid") and body_meta["uid"] != current["metadata"]["uid"]:
                raise conflict(
                    resource,
                    name,
                    f"Precondition failed: UID in precondition: {body_meta['uid']}, "
                    f"UID in object meta: {current['metadata']['uid']}",
                )
            if status_only:
                new = dict(current)
                new["metadata"] = dict(current["metadata"])
                new["status"] = copy.deepcopy(obj.get("status") or {})
            else:
                new = {
                    k: copy.deepcopy(v) for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")
                }
                new["apiVersion"], new["kind"] = resource.api_version, resource.kind
                meta = {k: copy.deepcopy(v) for k, v in body_meta.items()}
                for field in (
                    "name",
                    "namespace",
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "resourceVersion",
                ):
                    if field in current["metadata"]:
                        meta[field] = current["metadata"][field]
                    else:
                        meta.pop(field, None)
                if "managedFields" not in body_meta and current["metadata"].get("managedFields"):
                    meta["managedFields"] = current["metadata"]["managedFields"]
                if "generateName" not in body_meta and current["metadata"].get("generateName"):
                    meta["generateName"] = current["metadata"]["generateName"]
                new["metadata"] = meta
                if (resource.has_status and not keep_status) or "status" not in obj:
                    if "status" in current:
                        new["status"] = current["status"]
                else:
                    new["status"] = copy.deepcopy(obj["status"])
                if current["metadata"].get("deletionTimestamp"):
                    added = set(meta.get("finalizers") or []) - set(current["metadata"].get("finalizers") or [])
                    if added:
                        raise forbidden(
                            resource,
                            name,
                            "no new finalizers can be added if the object is being deleted, "
                            f"found new finalizers {sorted(added)}",
                        )
            if self.admit:
                self.admit("UPDATE", resource, new, current)
            if not status_only:
                ignored = ("metadata", "status", "apiVersion", "kind")
                if (
                    any(new.get(k) != current.get(k) for k in set(new) | set(current) if k not in ignored)
                    and "generation" in current["metadata"]
                ):
                    new["metadata"]["generation"] = current["metadata"]["generation"] + 1
            if manager:
                managedfields.update(
                    managedfields.schema(self, resource),
                    resource,
                    current,
                    new,
                    manager,
                    now_iso(),
                    subresource or ("status" if status_only else ""),
                )
            elif managed_fields is not None:
                new["metadata"] = dict(new["metadata"], managedFields=managed_fields)
                if not managed_fields:
                    del new["metadata"]["managedFields"]
            if new == current:
                return copy.deepcopy(current)
            if dry_run:
                return copy.deepcopy(new)
            new["metadata"]["resourceVersion"] = self._bump()
            # An update that clears the last finalizer completes a pending deletion; not for
            # namespaces, which the namespace controller removes once they are empty.
            finished = (
                new["metadata"].get("deletionTimestamp")
                and not new["metadata"].get("finalizers")
                and resource.key != "namespaces"
            )
            if finished and resource.key != "pods":
                return copy.deepcopy(self._remove(resource, key, new))
            self._put(resource, key, new, current)
            if finished and not self._pod_waits(new):
                return copy.deepcopy(self._remove(resource, key))
            return copy.deepcopy(new)

    def mutate(
        self, resource, namespace, name, change, status_only=False, keep_status=False, manager=None, subresource=None
    ):
        """Read-modify-write under the lock for controllers: change(copy) edits the copy (or returns
        False to skip). Returns the stored result, or None when the object is gone. A controller
        that names itself `manager` takes ownership of what it changes, as on a real cluster."""
        with self.lock:
            current = self.objects.get(self.key(resource, namespace, name))
            if current is None:
                return None
            draft = copy.deepcopy(current)
            if change(draft) is False:
                return current
            draft["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self.update(
                resource,
                namespace,
                name,
                draft,
                status_only=status_only,
                keep_status=keep_status,
                manager=manager,
                subresource=subresource,
            )

    def replace_status_fast(self, resource, key, status):
        """Swap in a new status without copying the rest (controllers, event bursts)."""
        with self.lock:
            current = self.objects.get(key)
            if current is None:
                return None
            new = dict(current)
            new["metadata"] = dict(current["metadata"])
            new["status"] = status
            new["metadata"]["resourceVersion"] = self._bump()
            self._put(resource, key, new, current)
            return new

    @staticmethod
    def _pod_waits(obj):
        return (
            obj["kind"] == "Pod"
            and bool((obj.get("spec") or {}).get("nodeName"))
            and (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and obj["metadata"].get("deletionGracePeriodSeconds", 0) > 0
        )

    def delete(
        self, resource, namespace, name, propagation="Background", dry_run=False, grace_period=None, preconditions=None
    ):
        with self.lock:
            key = self.key(resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                raise not_found(resource, name)
            meta = current["metadata"]
            preconditions = preconditions or {}
            if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
                raise conflict(
                    resource,
                    name,
                    f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                    f"UID in object meta: {meta['uid']}",
                )
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta["resourceVersion"]:
                raise conflict(
                    resource,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                    f"ResourceVersion in object meta: {meta['resourceVersion']}",
                )
            if dry_run:
                return copy.deepcopy(current)
            propagation = propagation or "Background"
            if propagation == "Orphan":
                self._orphan(meta["uid"])
            finalizers = list(meta.get("finalizers") or [])
            if (
                propagation == "Foreground"
                and self.dependents.get(meta["uid"])
                and "foregroundDeletion" not in finalizers
            ):
                finalizers.append("foregroundDeletion")
            graceful = False
            if resource.key == "pods":
                spec = current.get("spec") or {}
                grace = spec.get("terminationGracePeriodSeconds", 30) if grace_period is None else grace_period
                graceful = (
                    bool(spec.get("nodeName"))
                    and grace > 0
                    and (current.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                )
                if meta.get("deletionTimestamp") and grace_period is not None and grace_period == 0:
                    graceful = False
            if finalizers or graceful or resource.key == "namespaces":
                if (
                    meta.get("deletionTimestamp")
                    and finalizers == (meta.get("finalizers") or [])
                    and (
                        not graceful
                        or grace_period is None
                        or grace_period >= meta.get("deletionGracePeriodSeconds", 0)
                    )
                ):
                    if not finalizers and not graceful and resource.key != "namespaces":
                        return copy.deepcopy(self._remove(resource, key))
                    return copy.deepcopy(current)
                new = copy.deepcopy(current)
                new_meta = new["metadata"]
                new_meta.setdefault("deletionTimestamp", now_iso())
                new_meta["deletionGracePeriodSeconds"] = grace if resource.key == "pods" and graceful else 0
                if finalizers:
                    new_meta["finalizers"] = finalizers
                if resource.key == "namespaces":
                    new.setdefault("status", {})["phase"] = "Terminating"
                if "generation" in new_meta:
                    new_meta["generation"] += 1
                if resource.key == "pods" and not graceful and not finalizers:
                    return copy.deepcopy(self._remove(resource, key))
                new_meta["resourceVersion"] = self._bump()
                self._put(resource, key, new, current)
                if propagation == "Foreground":
                    for child_key in list(self.dependents.get(meta["uid"], ())):
                        self._delete_dependent(child_key, "Foreground")
                return copy.deepcopy(new)
            return copy.deepcopy(self._remove(resource, key))

    def _delete_dependent(self, key, propagation):
        if key in self.objects:
            try:
                self.delete(self.kinds[key[0]], key[1], key[2], propagation)
            except ApiError:
                pass

    def _orphan(self, owner_uid):
        for key in list(self.dependents.get(owner_uid, ())):
            child = self.objects.get(key)
            if child is None:
                continue
            new = dict(child)
            new["metadata"] = dict(child["metadata"])
            new["metadata"]["ownerReferences"] = [
                r for r in child["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
            ]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            new["metadata"]["resourceVersion"] = self._bump()
            self._put(self.kinds[key[0]], key, new, child)

    def remove_finalizer(self, resource, namespace, name, finalizer):
        def change(obj):
            finalizers = obj["metadata"].get("finalizers") or []
            if finalizer not in finalizers:
                return False
            obj["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]

        return self.mutate(resource, namespace, name, change)

    def _remove(self, resource, key, final=None):
        """Take the object out for good; dependents whose owners are all gone follow (garbage collection)."""
        obj = self.objects.pop(key)
        keys = self.keys[resource.key]
        position = bisect.bisect_left(keys, key[1:])
        if position < len(keys) and keys[position] == key[1:]:
            keys.pop(position)
        uid = obj["metadata"]["uid"]
        self.by_uid.pop(uid, None)
        self._index_refs(key, obj, False)
        gone = dict(final or obj)
        gone["metadata"] = dict(
            gone["metadata"], resourceVersion=self._bump() if final is None else gone["metadata"]["resourceVersion"]
        )
        self._emit(resource, "DELETED", gone, obj)
        for child_key in list(self.dependents.pop(uid, ())):
            child = self.objects.get(child_key)
            if child is None:
                continue
            owners = [r.get("uid") for r in child["metadata"].get("ownerReferences") or []]
            if any(o in self.by_uid for o in owners if o != uid):
                continue
            self._delete_dependent(child_key, "Background")
        for ref in obj["metadata"].get("ownerReferences") or ():  # a foreground owner waits for its last dependent
            owner_key = self.by_uid.get(ref.get("uid"))
            owner = self.objects.get(owner_key) if owner_key else None
            if (
                owner
                and owner["metadata"].get("deletionTimestamp")
                and "foregroundDeletion" in (owner["metadata"].get("finalizers") or [])
                and not self.dependents.get(ref["uid"])
            ):
                self.remove_finalizer(self.kinds[owner_key[0]], owner_key[1], owner_key[2], "foregroundDeletion")
        return gone

    # --- watch

    def subscribe(self, resource, namespace, since_rv, send_initial=None):
        """A Subscription, primed with what the watcher missed since since_rv (or, for "" / "0" /
        send_initial, ADDED events for everything that exists)."""
        try:
            position = int(since_rv or 0)
        except ValueError:
            raise bad_request(f"invalid resource version {since_rv!r}") from None
        sub = Subscription(resource.key, namespace, self.max_watch_queue)
        with self.lock:
            if send_initial or not position:
                for obj in self.list_refs(resource, namespace)[0]:
                    sub.queue.append(
                        WatchEvent(
                            int(obj["metadata"]["resourceVersion"]),
                            resource.key,
                            obj["metadata"].get("namespace", ""),
                            "ADDED",
                            obj,
                        )
                    )
                sub.initial_rv = self.rv
            else:
                if position < self.oldest_rv:
                    raise Expired(f"too old resource version: {position} ({self.oldest_rv})")
                backlog = []
                for event in reversed(self.events):
                    if event.rv <= position:
                        break
                    if event.plural == resource.key and (not namespace or event.namespace == namespace):
                        backlog.append(event)
                sub.queue.extend(reversed(backlog))
                sub.initial_rv = None
            self.subscriptions.add(sub)
            if sub.queue:
                sub.ready.set()
        return sub

    def unsubscribe(self, sub):
        with self.lock:
            self.subscriptions.discard(sub)

    def close_watches(self, why="watch closed by the server"):
        with self.lock:
            for sub in list(self.subscriptions):
                sub.close(why)
