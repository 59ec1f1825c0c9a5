"""The YAML editor: any object a tenant may import (not Secrets: their values would show),
read live, edited as text, checked like an import (hardened loader, namespace, kind, Pod
Security, quota), previewed as a diff against live with the cluster's dry-run verdict, and
saved as a whole (PUT, `kubectl replace`) as the user with the resourceVersion it was read
at: a change made meanwhile makes the save fail with 409 instead of being overwritten."""

import difflib
from dataclasses import dataclass

import yaml
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console.kube.errors import ApiRefused
from console.oplog import oplog

from . import imports, manifests, podsecurity
from .checks import check_may_change
from .cluster import talking_to
from .configs import EditConflict, live_object, target
from .models import App
from .quota import check_quota

EDITABLE_KINDS = imports.ALLOWED_KINDS
# Status and server bookkeeping: shown to nobody, sent back by nobody.
STRIPPED_META = imports.VOLATILE_META + ("ownerReferences",)


@dataclass
class Preview:
    diff: str  # unified diff, live → after the change ("" when unchanged)
    action: str  # change or unchanged
    verdict: str  # the dry run's answer: "" when accepted, the cluster's refusal otherwise


def _check_kind(kind):
    if kind not in EDITABLE_KINDS:
        raise ValidationError(
            _("%(kind)s objects cannot be edited here (allowed: %(allowed)s).")
            % {"kind": kind, "allowed": ", ".join(EDITABLE_KINDS)}
        )


def editable_text(obj):
    """The live object as the user edits it: no status, no server bookkeeping."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for key in STRIPPED_META:
        meta.pop(key, None)
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def load(project, *, user, kind, name):
    """(text, resourceVersion) of the live object, read as the user."""
    check_may_change(user, project)
    _check_kind(kind)
    with talking_to(project, user) as api:
        live = live_object(api, project, kind, name)
    return editable_text(live), live["metadata"].get("resourceVersion", "")


def parse(project, kind, name, text):
    """The edited object, checked as an import is; its kind and name are the ones opened."""
    objects = imports.parse(text, project.name)
    if len(objects) != 1:
        raise ValidationError(_("The editor holds one object; this text has %(n)s.") % {"n": len(objects)})
    obj = objects[0]
    if obj["kind"] != kind:
        raise ValidationError(
            _("The kind may not change (%(old)s → %(new)s): create the new object with Import YAML instead.")
            % {"old": kind, "new": obj["kind"]}
        )
    if obj["metadata"]["name"] != name:
        raise ValidationError(
            _("The name may not change (%(old)s → %(new)s).") % {"old": name, "new": obj["metadata"]["name"]}
        )
    podsecurity.check_objects(project.tenant.pod_security, [obj])
    return obj


def _check(api, project, live, obj, resource_version):
    """Dry run of the replacement (as the user); (result or None, refusal text)."""
    if obj["kind"] in imports.WORKLOAD_KINDS:
        spec = manifests.spec_from_workload(obj, obj["kind"])
        check_quota(api, project, spec, spec["replicas"] - ((live.get("spec") or {}).get("replicas", 0)))
    body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": resource_version}}
    try:
        return api.replace(body, dry_run=True), ""
    except ApiRefused as exc:
        if exc.status == 409:
            raise _conflict(obj) from None
        return None, exc.message


def _conflict(obj):
    return EditConflict(
        _(
            "%(kind)s %(name)s was changed by someone else since you opened the editor. Reload it to start from the "
            "current version (your text is still below)."
        )
        % {"kind": obj["kind"], "name": obj["metadata"]["name"]}
    )


def _diff(live, result):
    """(change or unchanged, unified diff) as a reader compares objects (imports.comparable)."""
    before, after = imports.comparable(live), imports.comparable(result)
    if before == after:
        return "unchanged", ""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), _("on the cluster"), _("after your edit"), lineterm="", n=2
    )
    return "change", "\n".join(lines)


def preview(project, *, user, kind, name, text, resource_version):
    """What saving would change, and whether the cluster accepts it. Reads only."""
    check_may_change(user, project)
    _check_kind(kind)
    obj = parse(project, kind, name, text)
    with talking_to(project, user) as api:
        live = live_object(api, project, kind, name)
        result, refusal = _check(api, project, live, obj, resource_version)
    if refusal:
        return Preview("", "", refusal)
    action, diff = _diff(live, result)
    return Preview(diff, action, "")


def save(project, *, acting_user, kind, name, text, resource_version):
    """Replace the object with the edited one (after the preview's checks)."""
    with oplog.recorded(acting_user, "object.edit", target=target(project, kind, name)) as outcome:
        check_may_change(acting_user, project)
        _check_kind(kind)
        if not resource_version:
            raise ValidationError(_("Open the editor again: the version it was read at is missing."))
        obj = parse(project, kind, name, text)
        with talking_to(project, acting_user) as api:
            live = live_object(api, project, kind, name)
            result, refusal = _check(api, project, live, obj, resource_version)
            if refusal:
                raise ValidationError(_("The cluster refuses the change: %(error)s") % {"error": refusal})
            action, diff = _diff(live, result)
            if action == "unchanged":
                raise ValidationError(_("Nothing to change."))
            outcome.payload = {"diff": diff}
            outcome.before = {"resourceVersion": live["metadata"].get("resourceVersion")}
            try:
                saved = api.replace({**obj, "metadata": {**obj["metadata"], "resourceVersion": resource_version}})
            except ApiRefused as exc:
                if exc.status == 409:
                    raise _conflict(obj) from None
                raise
        outcome.after = {"resourceVersion": saved["metadata"].get("resourceVersion")}
        if kind in imports.WORKLOAD_KINDS:  # the console's app follows what now runs
            App.objects.filter(project=project, name=name, kind=kind).update(
                spec=manifests.spec_from_workload(saved, kind)
            )
    return saved
