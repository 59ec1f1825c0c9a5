"""The volume page's websocket group, backupchain-<volume id>: after each step of a storage
job the chain partial (templates/storage/_chain.html) is pushed, rendered in each language."""

from console.live import realtime
from tenants import access

from .models import Volume


def chain_context(volume, **extra):
    nodes = list(volume.backups.select_related("parent").order_by("created_at", "pk")) if volume.pk else []
    continued = {node.parent_id for node in nodes}
    for node in nodes:  # whether later nodes continue it, without a query per node
        node.continued = node.pk in continued
    return {"volume": volume, "nodes": nodes, **extra}


def push_chain(volume, gone=False):
    realtime.push_in_each_language(volume.group, "storage/_chain.html", chain_context(volume, gone=gone, pushed=True))


def _volume(ident):
    if not ident.isdigit():
        return None
    return Volume.objects.filter(pk=int(ident)).select_related("project__tenant").first()


def may_follow_chain(user, ident):
    volume = _volume(ident)
    return volume is not None and access.may_see(user, volume.project.tenant)


def snapshot(user, ident):
    """The chain right after subscribing: what changed since the page was rendered."""
    volume = _volume(ident)
    if volume is None:
        return ""
    context = chain_context(volume, oob=True, pushed=True)
    return realtime.render_for(user, "storage/_chain.html", context)
