"""Reading the resource mirror for the resource browser: lists, object detail, owners."""

import yaml
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from console.clusters import selectors
from console.clusters.models import MirroredObject

PAGE_SIZE = 50
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP matches: an exact count of 150k rows costs more than the
    page itself, and nobody pages past 200 pages instead of filtering."""

    @cached_property
    def count(self):
        return self.object_list[: COUNT_CAP + 1].count()

    @property
    def capped(self):
        return self.count > COUNT_CAP


SORTS = {
    "name": ("name", "namespace"),
    "-name": ("-name", "-namespace"),
    "namespace": ("namespace", "name"),
    "-namespace": ("-namespace", "-name"),
    "age": ("-created_at", "name"),
    "-age": ("created_at", "name"),
    "status": ("phase", "name"),
}


def kind_counts(cluster):
    from django.db.models import Count

    return dict(
        MirroredObject.objects.filter(cluster=cluster)
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )


def list_objects(cluster, kind, *, namespace="", labels="", name="", status="", sort="name", page=1):
    """A page of mirrored objects; raises selectors.SelectorError for a bad label selector."""
    objects = MirroredObject.objects.filter(cluster=cluster, kind=kind)
    if namespace:
        objects = objects.filter(namespace=namespace)
    if labels:
        objects = objects.filter(selectors.to_q(labels))
    if name:
        objects = objects.filter(name__contains=name)
    if status:
        objects = objects.filter(phase=status)
    objects = objects.order_by(*SORTS.get(sort, SORTS["name"])).defer("object")
    return CappedPaginator(objects, PAGE_SIZE).get_page(page)


def find(cluster, kind, namespace, name):
    return MirroredObject.objects.filter(cluster=cluster, kind=kind, namespace=namespace, name=name).first()


def owner_chain(obj, limit=10):
    """The controllers above an object, nearest first (Pod → ReplicaSet → Deployment)."""
    chain, current = [], obj
    while current.owner_uid and len(chain) < limit:
        owner = (
            MirroredObject.objects.filter(cluster_id=current.cluster_id, uid=current.owner_uid).defer("object").first()
        )
        if owner is None:
            break
        chain.append(owner)
        current = owner
    return chain


def children(obj):
    return (
        MirroredObject.objects.filter(cluster_id=obj.cluster_id, owner_uid=obj.uid)
        .defer("object")
        .order_by("kind", "name")
    )


def events_for(obj, limit=50):
    return MirroredObject.objects.filter(
        cluster_id=obj.cluster_id, kind="Event", namespace=obj.namespace, object__involvedObject__uid=obj.uid
    ).order_by("-created_at")[:limit]


def as_yaml(obj):
    data = dict(obj.object)
    metadata = dict(data.get("metadata") or {})
    metadata.pop("managedFields", None)  # noise for a reader, as kubectl hides it
    data["metadata"] = metadata
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
