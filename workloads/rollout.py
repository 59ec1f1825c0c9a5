"""Rollout progress and pod rows from Kubernetes objects (dicts): the same code reads the
API server's answers in a task and the resource mirror's copies for a page."""

from dataclasses import dataclass, field
from datetime import datetime

from console.clusters.mirror import phase_of
from console.texts import Joined, message

from .choices import AppKind
from .manifests import POD_TEMPLATE_HASH, REVISION

COUNTS = message("%(updated)s/%(wanted)s updated, %(ready)s ready, %(available)s available")
OLD = message(", %(old)s old")
PAUSED = message(" (paused)")
BAD_WAITING = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
    "CreateContainerError",
)


@dataclass
class Progress:
    kind: str
    wanted: int = 0
    current: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    paused: bool = False
    observed: bool = True
    revision: str = ""
    message: str = ""
    deadline_exceeded: bool = False
    exists: bool = True

    @property
    def old(self):
        return max(0, self.current - self.updated)

    @property
    def complete(self):
        return (
            self.exists
            and self.observed
            and self.updated >= self.wanted
            and self.current == self.wanted
            and self.available >= self.wanted
        )

    @property
    def percent(self):
        return 100 if not self.wanted else min(100, round(100 * min(self.updated, self.ready) / self.wanted))

    def summary(self):
        """A Joined text (console.texts): stored by a job's steps, translated for each reader."""
        parts = [COUNTS(updated=self.updated, wanted=self.wanted, ready=self.ready, available=self.available)]
        if self.old:
            parts.append(OLD(old=self.old))
        if self.paused:
            parts.append(PAUSED())
        return Joined(*parts)

    def key(self):
        return (self.wanted, self.current, self.updated, self.ready, self.available, self.paused, self.observed)


def progress(obj, kind):
    if obj is None:
        return Progress(kind=kind, exists=False)
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    p = Progress(
        kind=kind,
        wanted=spec.get("replicas", 1),
        current=status.get("replicas", 0),
        updated=status.get("updatedReplicas", 0),
        ready=status.get("readyReplicas", 0),
        observed=status.get("observedGeneration", 0) >= meta.get("generation", 1),
        paused=bool(spec.get("paused")),
    )
    if kind == AppKind.STATEFULSET:
        p.available = status.get("availableReplicas", p.ready)
        p.revision = status.get("updateRevision", "")
    else:
        p.available = status.get("availableReplicas", 0)
        p.revision = (meta.get("annotations") or {}).get(REVISION, "")
        condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {})
        p.message = condition.get("message", "")
        p.deadline_exceeded = condition.get("reason") == "ProgressDeadlineExceeded"
    return p


@dataclass
class PodRow:
    name: str
    phase: str
    ready: str
    restarts: int
    node: str
    ip: str
    created: datetime | None
    revision: str
    problem: str = ""
    containers: list = field(default_factory=list)
    revision_number: str = ""  # a Deployment's revision the pod belongs to


def pod_row(obj, created=None):
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    labels = meta.get("labels") or {}
    problem = ""
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in BAD_WAITING:
            problem = f"{waiting['reason']}: {waiting.get('message', '')}".strip(": ")
    return PodRow(
        name=meta.get("name", ""),
        phase=phase_of({**obj, "kind": "Pod"}),
        ready=f"{sum(1 for c in statuses if c.get('ready'))}/{len(spec.get('containers') or [])}",
        restarts=sum(c.get("restartCount", 0) for c in statuses),
        node=spec.get("nodeName", ""),
        ip=status.get("podIP", ""),
        created=created,
        revision=labels.get(POD_TEMPLATE_HASH) or labels.get("controller-revision-hash", ""),
        problem=problem,
        containers=[c.get("name") for c in spec.get("containers") or []],
    )


def image_of(template):
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return ", ".join(c.get("image", "") for c in containers)
