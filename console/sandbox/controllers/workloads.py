"""What the workload controllers share: pods made from a template (with the events their
controllers record) and ControllerRevisions."""

from ..errors import ApiError
from ..kinds import STORED
from .context import Controller
from .helpers import copied, owner_ref, safe_hash, template_key

R = STORED


class WorkloadController(Controller):
    def new_pod(
        self,
        owner: dict,
        template: dict,
        name: str | None = None,
        generate: str | None = None,
        extra_labels: dict | None = None,
        extra_spec: dict | None = None,
    ) -> dict:
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.update(extra_labels or {})
        metadata = {"labels": labels, "ownerReferences": [owner_ref(owner)]}
        annotations = dict((template.get("metadata") or {}).get("annotations") or {})
        if annotations:
            metadata["annotations"] = annotations
        if name:
            metadata["name"] = name
        else:
            metadata["generateName"] = generate
        spec = copied(template.get("spec") or {})
        spec.update(extra_spec or {})
        return self.store.create(R["pods"], owner["metadata"]["namespace"], {"metadata": metadata, "spec": spec})

    def spawn(self, owner: dict, template: dict, component: str, **pod: dict | str | None) -> dict | None:
        """new_pod() with the events of the ReplicaSet, DaemonSet and Job controllers; None when refused."""
        try:
            created = self.new_pod(owner, template, **pod)
        except ApiError as exc:
            self.ctx.event(
                owner, "FailedCreate", f"Error creating: {exc.message}", "Warning", component, aggregate=True
            )
            return None
        self.ctx.event(owner, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", "Normal", component)
        return created

    def revision_for(
        self, owner: dict, template: dict, kind_label: str = "controller-revision-hash"
    ) -> tuple[str, int]:
        """The ControllerRevision holding this template (created when new): (name, revision number)."""
        namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
        digest = safe_hash(template_key(template), 10)
        rev_name = f"{name}-{digest}"
        revisions = self.ctx.owned(R["controllerrevisions"], owner)
        existing = next((r for r in revisions if r["metadata"]["name"] == rev_name), None)
        if existing:
            return rev_name, existing.get("revision", 1)
        number = max((r.get("revision", 0) for r in revisions), default=0) + 1
        labels = dict((template.get("metadata") or {}).get("labels") or {}, **{kind_label: digest})
        try:
            self.store.create(
                R["controllerrevisions"],
                namespace,
                {
                    "metadata": {"name": rev_name, "labels": labels, "ownerReferences": [owner_ref(owner)]},
                    "data": {"spec": {"template": dict(template, **{"$patch": "replace"})}},
                    "revision": number,
                },
            )
        except ApiError:
            pass
        limit = (owner.get("spec") or {}).get("revisionHistoryLimit", 10)
        for old in sorted(revisions, key=lambda r: r.get("revision", 0))[: max(0, len(revisions) + 1 - limit - 1)]:
            try:
                self.store.delete(R["controllerrevisions"], namespace, old["metadata"]["name"])
            except ApiError:
                pass
        return rev_name, number
