"""Raw list and watch across all namespaces, for the resource mirror.

Raw JSON instead of the client's model classes: the watcher handles thousands of events a
second and stores the JSON as it came.
"""

import json
from collections.abc import Callable, Iterator

import urllib3
from kubernetes import client

from console.kube.connection import BACKGROUND_TIMEOUT, raw_get
from console.kube.errors import ClusterError, WatchExpired
from console.kube.kinds import Kind


def list_pages(api: client.ApiClient, kind: Kind, page_size: int = 500) -> Iterator[tuple[list[dict], str]]:
    """All objects of a kind, a page at a time: yields (items, resourceVersion or "")."""
    token = None
    while True:
        query = [("limit", str(page_size))] + ([("continue", token)] if token else [])
        body = json.loads(raw_get(api, kind.collection_path(), query, BACKGROUND_TIMEOUT).read())
        token = body.get("metadata", {}).get("continue")
        yield body.get("items", []), "" if token else body.get("metadata", {}).get("resourceVersion", "")
        if not token:
            return


def watch_raw(
    api: client.ApiClient,
    kind: Kind,
    resource_version: str,
    timeout_seconds: int = 300,
    opened: Callable[[urllib3.BaseHTTPResponse], object] | None = None,
) -> Iterator[tuple[str, dict]]:
    """Yield (type, object) from a watch; raises WatchExpired on 410. `opened(response)` is
    called with the open stream, so that another thread can cut it (response.shutdown())."""
    query = [("watch", "1"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    response = raw_get(api, kind.collection_path(), query, (BACKGROUND_TIMEOUT[0], timeout_seconds + 30)).response
    if opened:
        opened(response)
    buffer = b""
    try:
        for chunk in response.stream(64 * 1024, decode_content=True):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired(obj.get("message", "resourceVersion too old"))
                    raise ClusterError("error", obj.get("message", "watch error"))
                obj.setdefault("kind", kind.kind)
                yield event["type"], obj
    except urllib3.exceptions.ProtocolError as exc:
        raise ClusterError("unreachable", exc) from None
    finally:
        response.release_conn()
