"""Jobs (parallelism, completions, Indexed mode, backoffLimit, suspend, TTL after finishing)
and CronJobs (schedules in simulated time, concurrency policies, history limits)."""

import time
from datetime import UTC, datetime

from .. import cron
from ..errors import ApiError
from ..kinds import STORED
from ..store import now_iso
from .context import Key
from .helpers import condition, copied, has_condition, owner_ref, pod_active, pod_ready, set_condition, time_of
from .workloads import WorkloadController

R = STORED
INDEX = "batch.kubernetes.io/job-completion-index"
MAX_GENERATE_NAME = 58  # 63 less the 5 random characters the API server appends
SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def phase_count(pods: list[dict], phase: str) -> int:
    return sum(1 for p in pods if (p.get("status") or {}).get("phase") == phase)


def completion_index(pod: dict) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX, "")
    return int(value) if value.isdigit() else None


def intervals(indexes: set[int]) -> str:
    """ "0-2,4,6,7": indexes as the Job controller writes completedIndexes (two in a row take a comma)."""
    runs: list[list[int]] = []
    for i in sorted(indexes):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}{',' if b == a + 1 else '-'}{b}" for a, b in runs)


def indexed_template(job: dict, index: int) -> tuple[dict, str]:
    """The pod template for one completion index and the pod name prefix, as the Job controller makes them:
    the index as annotation, label, hostname and JOB_COMPLETION_INDEX in every container."""
    name, value = job["metadata"]["name"], str(index)
    template = copied((job.get("spec") or {}).get("template") or {})
    meta = template.setdefault("metadata", {})
    meta.setdefault("annotations", {})[INDEX] = value
    meta.setdefault("labels", {})[INDEX] = value
    spec = template.setdefault("spec", {})
    spec["hostname"] = f"{name}-{index}"
    env = {
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX}']"}},
    }
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if not any(e.get("name") == env["name"] for e in container.get("env") or []):
            container.setdefault("env", []).append(copied(env))
    suffix = f"-{index}-"
    return template, name[: MAX_GENERATE_NAME - len(suffix)] + suffix


def finished_as(job: dict) -> str | None:
    """ "Complete" or "Failed" once the Job finished, else None."""
    return next(
        (
            c["type"]
            for c in (job.get("status") or {}).get("conditions") or []
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        ),
        None,
    )


def job_ref(job: dict) -> dict:
    meta = job["metadata"]
    return {
        "kind": "Job",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "batch/v1",
        "resourceVersion": meta["resourceVersion"],
    }


class Jobs(WorkloadController):
    def sync(self, key: Key) -> None:
        job = self.ctx.live(key)
        if job is None:
            return
        spec = job.get("spec") or {}
        old = job.get("status") or {}
        if has_condition(job, "Complete") or has_condition(job, "Failed"):
            self.expire(key, job)
            return
        pods = self.ctx.owned(R["pods"], job)
        completions = spec.get("completions", 1)
        indexed = spec.get("completionMode") == "Indexed"
        done = {completion_index(p) for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"}
        done = {i for i in done if i is not None and i < (completions or 0)}
        succeeded = len(done) if indexed else phase_count(pods, "Succeeded")
        failed = phase_count(pods, "Failed")
        active = [p for p in pods if pod_active(p)]
        status = dict(old)
        now = now_iso()
        status.setdefault("startTime", now)
        conditions = list(old.get("conditions") or [])

        def finish(kinds, reason, message):
            nonlocal conditions
            for kind in kinds:
                conditions = set_condition(conditions, condition(kind, "True", reason, message, now, lastProbeTime=now))

        if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure":
            # with OnFailure the kubelet restarts the container in place: its restarts are the Job's retries
            failed += sum(
                s.get("restartCount", 0) for p in active for s in (p.get("status") or {}).get("containerStatuses") or []
            )
        deadline = spec.get("activeDeadlineSeconds")
        overdue = False
        if deadline is not None and not spec.get("suspend"):
            ran = (time.time() - time_of(status["startTime"])) * self.ctx.clock.speed
            overdue = ran >= deadline
            if not overdue:
                self.ctx.wake(key, self.ctx.clock.now() + deadline - ran + 0.01)
        if overdue:
            for pod in active:
                self.store.delete(R["pods"], key[1], pod["metadata"]["name"])
            finish(("FailureTarget", "Failed"), "DeadlineExceeded", "Job was active longer than specified deadline")
            self.ctx.event(
                job, "DeadlineExceeded", "Job was active longer than specified deadline", "Warning", "job-controller"
            )
            active = []
        elif failed > spec.get("backoffLimit", 6):
            for pod in active:
                self.store.delete(R["pods"], key[1], pod["metadata"]["name"])
            finish(("FailureTarget", "Failed"), "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            self.ctx.event(
                job, "BackoffLimitExceeded", "Job has reached the specified backoff limit", "Warning", "job-controller"
            )
            active = []
        elif completions is not None and succeeded >= completions:
            finish(
                ("SuccessCriteriaMet", "Complete"), "CompletionsReached", "Reached expected number of succeeded pods"
            )
            status["completionTime"] = now
            self.ctx.event(job, "Completed", "Job completed", "Normal", "job-controller")
        elif not spec.get("suspend"):
            remaining = (completions - succeeded) if completions is not None else spec.get("parallelism", 1)
            self.start_pods(job, done, active, min(spec.get("parallelism", 1), remaining) - len(active))
        if indexed and done:
            status["completedIndexes"] = intervals(done)
        status.update(
            active=len(active),
            succeeded=succeeded,
            failed=failed,
            conditions=conditions,
            ready=sum(1 for p in active if pod_ready(p)),
            terminating=0,
            uncountedTerminatedPods={},
        )
        for field in ("active", "succeeded", "failed"):
            if not status[field]:
                del status[field]
        if not status["conditions"]:
            del status["conditions"]
        self.ctx.put_status(key, status, old)

    def expire(self, key: Key, job: dict) -> None:
        """A finished Job goes ttlSecondsAfterFinished (simulated) after its completion."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        completed = (job.get("status") or {}).get("completionTime")
        if ttl is None or not completed:
            return
        if (time.time() - time_of(completed)) * self.ctx.clock.speed >= ttl:
            self.store.delete(R["jobs"], key[1], key[2], "Background")
        else:
            self.ctx.wake(key, self.ctx.clock.now() + ttl)

    def start_pods(self, job: dict, done: set[int], active: list[dict], count: int) -> None:
        """Up to `count` more pods (appended to `active`); in Indexed mode each takes the lowest index
        that has neither succeeded nor a pod running for it."""
        spec, name = job.get("spec") or {}, job["metadata"]["name"]
        free = iter(())
        if spec.get("completionMode") == "Indexed":
            taken = done | {completion_index(p) for p in active}
            free = (i for i in range(spec.get("completions") or 0) if i not in taken)
        for _ in range(max(0, count)):
            index = next(free, None)
            if spec.get("completionMode") == "Indexed" and index is None:
                break
            template, prefix = (
                (copied(spec.get("template") or {}), f"{name}-") if index is None else indexed_template(job, index)
            )
            pod = self.spawn(job, template, "job-controller", generate=prefix)
            if pod is None:
                break
            active.append(pod)


class CronJobs(WorkloadController):
    def sync(self, key: Key) -> None:
        cj = self.ctx.live(key)
        if cj is None:
            return
        spec = cj.get("spec") or {}
        old = cj.get("status") or {}
        jobs = self.ctx.owned(R["jobs"], cj)
        running = [j for j in jobs if not finished_as(j) and not j["metadata"].get("deletionTimestamp")]
        status = dict(old)
        status["active"] = [job_ref(j) for j in running]
        successes = [j for j in jobs if finished_as(j) == "Complete"]
        if successes:
            status["lastSuccessfulTime"] = max(
                (j.get("status") or {}).get("completionTime", "") for j in successes
            ) or old.get("lastSuccessfulTime")
        now_wall = self.ctx.clock.wall()
        last = old.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"]
        try:
            due = cron.next_after(spec.get("schedule", ""), self.sim_wall_of(last, bool(old.get("lastScheduleTime"))))
        except cron.CronError:
            return
        if not spec.get("suspend") and due <= now_wall:
            self.run_due(cj, due, running, status)
        self.trim_history(cj, jobs)
        if not status["active"]:
            del status["active"]
        self.ctx.put_status(key, status, old)
        try:
            scheduled = status.get("lastScheduleTime") or old.get("lastScheduleTime")
            upcoming = cron.next_after(
                spec.get("schedule", ""), self.sim_wall_of(status.get("lastScheduleTime") or last, bool(scheduled))
            )
            self.ctx.wake(key, self.ctx.clock.now() + max(0.0, (upcoming - now_wall).total_seconds()) + 0.01)
        except cron.CronError:
            pass

    def run_due(self, cj: dict, due: datetime, running: list[dict], status: dict) -> None:
        """The Job of a due schedule, as concurrencyPolicy allows; status records it."""
        spec, namespace, name = cj.get("spec") or {}, cj["metadata"]["namespace"], cj["metadata"]["name"]
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and running:
            return
        if policy == "Replace":
            for job in running:
                self.store.delete(R["jobs"], namespace, job["metadata"]["name"], "Background")
                self.ctx.event(
                    cj, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}", "Normal", "cronjob-controller"
                )
        job_name = f"{name}-{int(due.timestamp() // 60)}"
        template = copied(spec.get("jobTemplate") or {})
        job_meta = template.get("metadata") or {}
        job_meta.update(name=job_name, ownerReferences=[owner_ref(cj)])
        job_meta.setdefault("annotations", {})[SCHEDULED] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            job = self.store.create(R["jobs"], namespace, {"metadata": job_meta, "spec": template.get("spec") or {}})
            self.ctx.event(cj, "SuccessfulCreate", f"Created job {job_name}", "Normal", "cronjob-controller")
            status["active"].append(job_ref(job))
        except ApiError as exc:
            if exc.code != 409:
                self.ctx.event(
                    cj, "FailedCreate", f"Error creating job: {exc.message}", "Warning", "cronjob-controller"
                )
        status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")

    def trim_history(self, cj: dict, jobs: list[dict]) -> None:
        spec, namespace = cj.get("spec") or {}, cj["metadata"]["namespace"]
        for kind, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
            ("Failed", spec.get("failedJobsHistoryLimit", 1)),
        ):
            finished = sorted(
                (j for j in jobs if finished_as(j) == kind),
                key=lambda j: j["metadata"]["creationTimestamp"] + j["metadata"]["name"],
            )
            for job in finished[: max(0, len(finished) - limit)]:
                try:
                    self.store.delete(R["jobs"], namespace, job["metadata"]["name"], "Background")
                    self.ctx.event(
                        cj,
                        "SawCompletedJob" if kind == "Complete" else "SawFailedJob",
                        f"Saw completed job: {job['metadata']['name']}, condition: {kind}",
                        "Normal",
                        "cronjob-controller",
                    )
                except ApiError:
                    pass

    def sim_wall_of(self, stamp: str, simulated: bool) -> datetime:
        """A timestamp as simulated wall time: schedule times are simulated already; creation times are real."""
        moment = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        if simulated:
            return moment
        clock = self.ctx.clock
        real_offset = moment.timestamp() - clock.wall0
        sim = real_offset if real_offset <= 0 else clock.now() - (time.time() - moment.timestamp()) * clock.speed
        return clock.wall(sim)
