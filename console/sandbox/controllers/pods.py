"""Pods as a kubelet runs them: image pull, running, readiness, exits and CrashLoopBackOff
(with injected pod faults), graceful termination, and the pod status it reports."""

import hashlib

from .. import processes
from ..errors import ApiError
from ..kinds import STORED
from ..store import now_iso
from .context import Context, Controller, Key
from .helpers import condition, qos_class, safe_hash, set_condition
from .nodes import node_ip
from .scheduler import Scheduler

R = STORED
CONDITION_ORDER = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]


class PodRun:
    """What the simulated kubelet knows about one pod."""

    __slots__ = (
        "stage",
        "since",
        "bound_at",
        "restarts",
        "ready_since",
        "last_exit",
        "started_iso",
        "ip",
        "events_sent",
        "node",
        "unschedulable_message",
        "exit_code",
        "finished_iso",
        "run_started",
        "process",
    )

    def __init__(self, now):
        self.stage, self.since, self.bound_at, self.restarts = "pulling", now, now, 0
        self.ready_since = None
        self.last_exit = None
        self.started_iso = None
        self.ip = None
        self.events_sent = set()
        self.node = None
        self.unschedulable_message = None
        self.exit_code = 0
        self.finished_iso = None
        self.run_started = None
        self.process = None  # the main process of a run-to-completion container (processes.py)


def run_seconds(pod, delays):
    annotations = pod["metadata"].get("annotations") or {}
    if "sandbox.k8s.io/run-seconds" in annotations:
        try:
            return float(annotations["sandbox.k8s.io/run-seconds"])
        except ValueError:
            pass
    return delays["job_run"]


def backoff_delay(run: PodRun, delays: dict[str, float]) -> float:
    return min(300.0, delays["backoff"] * (2 ** (run.restarts - 1)))


def container_path(container: dict) -> str:
    return f"spec.containers{{{container.get('name')}}}"


class Kubelet(Controller):
    def __init__(self, ctx: Context, scheduler: Scheduler) -> None:
        super().__init__(ctx)
        self.scheduler = scheduler
        self.ip_counters = {}

    def sync(self, key: Key) -> None:
        ctx = self.ctx
        pod = self.ctx.get(key)
        if pod is None:
            return
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        now = ctx.clock.now()
        if (meta.get("labels") or {}).get("sandbox.k8s.io/bulk") == "true" and not meta.get("deletionTimestamp"):
            return  # bulk-loaded pods are already running; their status belongs to the benchmark that drives them
        if meta.get("deletionTimestamp"):
            self.terminate(key, pod, now)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") and uid not in ctx.pods:
            return
        if not spec.get("nodeName"):
            created = ctx.pods.setdefault(uid, PodRun(now))
            if now - created.bound_at < ctx.delays["schedule"]:
                ctx.wake(key, created.bound_at + ctx.delays["schedule"])
                return
            ctx.pods.pop(uid, None)
            self.scheduler.schedule(pod)
            return
        self.run(pod, now)

    def terminate(self, key: Key, pod: dict, now: float) -> None:
        ctx, meta, spec = self.ctx, pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        run = ctx.pods.get(uid)
        if run is None or run.stage != "terminating":
            run = run or PodRun(now)
            run.stage, run.since = "terminating", now
            ctx.pods[uid] = run
            for container in spec.get("containers") or []:
                ctx.event(
                    pod,
                    "Killing",
                    f"Stopping container {container.get('name')}",
                    "Normal",
                    "kubelet",
                    spec.get("nodeName"),
                    container_path(container),
                )
        due = run.since + min(ctx.delays["terminate"], meta.get("deletionGracePeriodSeconds") or 0)
        if now >= due or not ctx.node_is_ready(spec.get("nodeName") or ""):
            if not meta.get("finalizers"):
                try:
                    self.store.delete(R["pods"], key[1], key[2], grace_period=0)
                except ApiError:
                    pass
            ctx.pods.pop(uid, None)
        else:
            ctx.wake(key, due)

    def run(self, pod: dict, now: float) -> None:
        """Advance a bound pod through every transition that is due, then report its status."""
        ctx, meta, spec = self.ctx, pod["metadata"], pod.get("spec") or {}
        node = spec["nodeName"]
        run = ctx.pods.get(meta["uid"])
        status = pod.get("status") or {}
        if run is None:
            run = ctx.pods[meta["uid"]] = self.start(pod, now, status)
        run.node = node
        fault = ctx.pod_faults.get((meta["namespace"], meta["name"]))
        node_ready = ctx.node_is_ready(node)
        stages = {"pulling": self.pulled, "running": self.ran, "backoff": self.restarted}
        for _ in range(20):
            stage = stages.get(run.stage)
            if stage is None or not stage(pod, run, now, fault, node_ready):
                break
        new_status = self.pod_status(pod, run, fault, node_ready)
        if new_status != status:
            self.store.update(R["pods"], meta["namespace"], meta["name"], {"status": new_status}, status_only=True)

    def start(self, pod: dict, now: float, status: dict) -> PodRun:
        run = PodRun(now)
        if status.get("phase") == "Running":  # a pod we did not start (restart of the controllers, bulk load)
            run.stage, run.since, run.ready_since = "running", now - 3600, now - 3600
            run.started_iso = status.get("startTime") or now_iso()
            run.run_started = now - 3600
            run.ip = status.get("podIP")
            run.events_sent.add("started")
        else:
            for container in (pod.get("spec") or {}).get("containers") or []:
                self.ctx.event(
                    pod,
                    "Pulling",
                    f'Pulling image "{container.get("image")}"',
                    "Normal",
                    "kubelet",
                    pod["spec"]["nodeName"],
                    container_path(container),
                )
        return run

    def reached(self, pod: dict, due: float, now: float) -> bool:
        """Whether a transition due at `due` is due; if not, the pod is woken then."""
        if now < due:
            self.ctx.wake(("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]), due)
            return False
        return True

    def container_events(self, pod: dict, *events: tuple[str, str]) -> None:
        """Normal kubelet events for each container: (reason, message with {name} and {image})."""
        node = pod["spec"]["nodeName"]
        for container in pod["spec"].get("containers") or []:
            for reason, message in events:
                self.ctx.event(
                    pod,
                    reason,
                    message.format(name=container.get("name"), image=container.get("image")),
                    "Normal",
                    "kubelet",
                    node,
                    container_path(container),
                )

    # --- the stages: each returns whether the pod moved on to another stage

    def pulled(self, pod: dict, run: PodRun, now: float, fault: str | None, node_ready: bool) -> bool:
        spec = pod["spec"]
        due = run.since + self.ctx.delays["pull"] * (4 if fault == "slow" else 1)
        if not node_ready or not self.reached(pod, due, now):
            return False
        run.stage, run.since, run.run_started = "running", due, due
        run.started_iso = run.started_iso or now_iso()
        node = spec["nodeName"]
        run.ip = run.ip or (
            (pod.get("status") or {}).get("podIP") or (node_ip(node) if spec.get("hostNetwork") else self.pod_ip(node))
        )
        pulled = (
            "Pulled",
            'Successfully pulled image "{image}" in 1.2s (1.2s including waiting). Image size: 52428800 bytes.',
        )
        self.container_events(
            pod,
            *([pulled] if run.restarts == 0 else []),
            ("Created", "Created container: {name}"),
            ("Started", "Started container {name}"),
        )
        return True

    def ran(self, pod: dict, run: PodRun, now: float, fault: str | None, node_ready: bool) -> bool:
        spec = pod["spec"]
        if fault in ("crash", "fail") or spec.get("restartPolicy") in ("Never", "OnFailure"):
            return self.exited(pod, run, now, fault)
        delays = self.ctx.delays
        ready_due = run.run_started + delays["ready"] * (3 if fault == "slow" else 1)
        if run.ready_since is None and fault != "unready" and self.reached(pod, ready_due, now):
            run.ready_since = ready_due
        if fault == "unready":
            run.ready_since = None
            if "unhealthy" not in run.events_sent:
                run.events_sent.add("unhealthy")
                self.ctx.event(
                    pod,
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503",
                    "Warning",
                    "kubelet",
                    spec["nodeName"],
                )
        return False

    def exited(self, pod: dict, run: PodRun, now: float, fault: str | None) -> bool:
        """A container that exits: a crash fault after crash_after, a Job's pod after its run time."""
        meta, spec, delays = pod["metadata"], pod["spec"], self.ctx.delays
        if fault in ("crash", "fail"):
            due, exit_code = run.since + delays["crash_after"], 1
        else:
            process = self.main_process(pod, run)
            due = run.since + run_seconds(pod, delays) + (process.seconds if process else 0.0)
            exit_code = (
                process.exit_code
                if process
                else int((meta.get("annotations") or {}).get("sandbox.k8s.io/exit-code", "0"))
            )
        if not self.reached(pod, due, now):
            return False
        run.exit_code = exit_code
        run.last_exit = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": run.started_iso,
            "finishedAt": now_iso(),
            "containerID": f"containerd://{safe_hash([meta['uid'], run.restarts], 32)}",
        }
        if run.process and run.process.message:
            run.last_exit["message"] = run.process.message[:4096]  # the kubelet keeps 4 KiB of it
        run.finished_iso = now_iso()
        if spec.get("restartPolicy") == "Never" or (spec.get("restartPolicy") == "OnFailure" and exit_code == 0):
            run.stage, run.since = "terminated", due
            return False
        run.stage, run.since = "backoff", due
        run.restarts += 1
        for container in spec.get("containers") or []:
            self.ctx.event(
                pod,
                "BackOff",
                "Back-off restarting failed container "
                f"{container.get('name')} in pod {meta['name']}_{meta['namespace']}({meta['uid']})",
                "Warning",
                "kubelet",
                spec["nodeName"],
                container_path(container),
            )
        return True

    def main_process(self, pod: dict, run: PodRun) -> "processes.Process | None":
        """The first container's main process, run once per start of the container."""
        if run.process is None:
            containers = pod["spec"].get("containers") or [{}]
            try:
                run.process = processes.run(self.ctx.cluster, pod, containers[0], run.restarts) or False
            except Exception as exc:  # the model of a process must never stop the kubelet
                self.ctx.errors.append(f"process of pod {pod['metadata']['name']}: {exc!r}")
                run.process = False
        return run.process or None

    def restarted(self, pod: dict, run: PodRun, now: float, fault: str | None, node_ready: bool) -> bool:
        due = run.since + backoff_delay(run, self.ctx.delays)
        if not self.reached(pod, due, now):
            return False
        run.process = None  # a restarted container runs its process again
        run.stage, run.since, run.run_started, run.ready_since = "running", due, due, None
        run.started_iso = now_iso()
        self.container_events(
            pod,
            ("Pulled", 'Container image "{image}" already present on machine'),
            ("Started", "Started container {name}"),
        )
        return True

    # --- what it reports

    def pod_ip(self, node: str) -> str:
        index = int(node.rsplit("-", 1)[-1]) if node.rsplit("-", 1)[-1].isdigit() else 0
        n = self.ip_counters.get(node, 1) + 1
        self.ip_counters[node] = n
        return f"10.244.{index}.{n % 250 + 2}" if n < 250 else f"10.{244 + n // 62500}.{index}.{n % 250 + 2}"

    def container_status(self, pod: dict, container: dict, run: PodRun, ready: bool) -> dict:
        meta = pod["metadata"]
        cid = f"containerd://{safe_hash([meta['uid'], container.get('name'), run.restarts], 32)}"
        image = container.get("image", "")
        entry = {
            "name": container.get("name"),
            "image": image if ":" in image.rsplit("/", 1)[-1] or "@" in image else image + ":latest",
            "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
            "restartCount": run.restarts,
            "ready": ready,
            "started": run.stage == "running",
            "lastState": {},
        }
        if run.stage == "pulling":
            entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
            entry["imageID"] = ""
        elif run.stage == "running":
            entry["state"] = {"running": {"startedAt": run.started_iso}}
            entry["containerID"] = cid
        elif run.stage == "backoff":
            delay = int(backoff_delay(run, self.ctx.delays))
            entry["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": (
                        f"back-off {delay}s restarting failed container={container.get('name')} "
                        f"pod={meta['name']}_{meta['namespace']}({meta['uid']})"
                    ),
                }
            }
            entry["containerID"] = cid
        elif run.stage == "terminated":
            entry["state"] = {"terminated": dict(run.last_exit or {"exitCode": 0, "reason": "Completed"})}
            entry["containerID"] = cid
            entry["started"] = False
        if run.last_exit and run.stage in ("running", "backoff") and run.restarts:
            entry["lastState"] = {"terminated": dict(run.last_exit)}
        entry["volumeMounts"] = [
            {"name": m.get("name"), "mountPath": m.get("mountPath")} for m in container.get("volumeMounts") or []
        ]
        if not entry["volumeMounts"]:
            del entry["volumeMounts"]
        return entry

    def pod_status(self, pod: dict, run: PodRun, fault: str | None, node_ready: bool) -> dict:
        spec, old = pod.get("spec") or {}, pod.get("status") or {}
        containers = spec.get("containers") or []
        ready = run.stage == "running" and run.ready_since is not None and node_ready and fault != "unready"
        statuses = [self.container_status(pod, container, run, ready) for container in containers]
        if run.stage == "terminated":
            phase = "Succeeded" if run.exit_code == 0 else "Failed"
        elif run.stage == "pulling":
            phase = "Pending"
        else:
            phase = "Running"
        at = old.get("startTime") or run.started_iso or now_iso()
        conditions = list(old.get("conditions") or [])
        started = run.stage != "pulling"
        for kind, value in (
            ("PodReadyToStartContainers", started or run.stage == "pulling"),
            ("Initialized", True),
            ("Ready", ready),
            ("ContainersReady", ready),
            ("PodScheduled", True),
        ):
            if phase in ("Succeeded", "Failed") and kind in ("Ready", "ContainersReady"):
                value = False
            reason = (
                ""
                if value or kind in ("PodReadyToStartContainers", "Initialized", "PodScheduled")
                else ("PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady")
            )
            message = (
                ""
                if not reason or reason == "PodCompleted"
                else f"containers with unready status: [{' '.join(c.get('name', '') for c in containers)}]"
            )
            conditions = set_condition(conditions, condition(kind, "True" if value else "False", reason, message))
        conditions.sort(key=lambda c: CONDITION_ORDER.index(c["type"]) if c["type"] in CONDITION_ORDER else 99)
        host_ip = node_ip(spec.get("nodeName", ""))
        status = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "startTime": at,
            "containerStatuses": statuses,
            "qosClass": qos_class(pod),
        }
        if run.ip and run.stage != "pulling":
            status["podIP"], status["podIPs"] = run.ip, [{"ip": run.ip}]
        elif old.get("podIP"):
            status["podIP"], status["podIPs"] = old["podIP"], old.get("podIPs") or [{"ip": old["podIP"]}]
        return status
