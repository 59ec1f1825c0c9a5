"""pods/log: generated container logs, deterministic per pod and line number, timestamped,
with a few log levels; `follow=true` streams new lines while the container runs."""

import random
import time
from datetime import UTC, datetime, timedelta

from .controllers.pods import run_seconds
from .errors import ApiError
from .responses import Response

LEVELS = ["INFO"] * 16 + ["DEBUG"] * 2 + ["WARN"] * 2 + ["ERROR"]
PATHS = [
    "/",
    "/healthz",
    "/api/items",
    "/api/items/{n}",
    "/api/cart",
    "/api/orders",
    "/static/app.js",
    "/metrics",
    "/login",
]
WORDS = [
    "cache refreshed",
    "connection pool size={n}",
    "processed batch size={n}",
    "flushed {n} records",
    "checkpoint saved",
    "leader election renewed",
    "config reloaded",
    "queue depth={n}",
    "gc pause {n}ms",
    "synced {n} objects",
]


def bad_request(message):
    return ApiError(400, "BadRequest", message)


class Logs:
    def __init__(self, cluster):
        self.cluster = cluster

    def line(self, pod, container, run, index, latency_ms):
        rng = random.Random(f"{pod['metadata']['uid']}/{container}/{run}/{index}")
        level = rng.choice(LEVELS)
        if index == 0:
            return "INFO", f"starting {container} (pid 1) on {pod.get('spec', {}).get('nodeName', '')}"
        if rng.random() < 0.6:
            path = rng.choice(PATHS).replace("{n}", str(rng.randint(1, 9999)))
            code = 200 if level in ("INFO", "DEBUG") else (404 if level == "WARN" else 500)
            latency = max(1, int(rng.gauss(latency_ms, latency_ms / 3)))
            return (
                level,
                f"{rng.choice(['GET', 'GET', 'GET', 'POST', 'PUT'])} {path} {code} {latency}ms "
                f"ip=10.244.{rng.randint(0, 9)}.{rng.randint(2, 250)}",
            )
        return level, rng.choice(WORDS).replace("{n}", str(rng.randint(1, 5000)))

    def respond(self, pod, query):
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        init_names = [c.get("name") for c in spec.get("initContainers") or []]
        name = pod["metadata"]["name"]
        container = query.get("container")
        if not container:
            default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
            if default in names:
                container = default
            elif len(names) == 1:
                container = names[0]
            else:
                raise bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                    + (f" or one of the init containers: [{' '.join(init_names)}]" if init_names else "")
                )
        if container not in names + init_names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        controllers = self.cluster.controllers
        run = controllers.pods.get(pod["metadata"]["uid"])
        status = next(
            (s for s in (pod.get("status") or {}).get("containerStatuses") or [] if s.get("name") == container), None
        )
        if status is None or "waiting" in (status.get("state") or {}) and not status.get("restartCount"):
            reason = ((status or {}).get("state") or {}).get("waiting", {}).get("reason", "ContainerCreating")
            raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        if run is not None and run.process and query.get("previous") not in ("true", "1"):
            return self.process_output(pod, container, run, query)
        previous = query.get("previous") in ("true", "1")
        restarts = status.get("restartCount", 0)
        if previous and not restarts:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        clock = controllers.clock
        interval = max(0.001, controllers.delays["log_interval"])
        load = self.cluster.knobs.load_for(pod) or {}
        latency = float(load.get("latency_ms") or 20)
        started = run.run_started if run and run.run_started is not None else clock.now() - 120
        crashing = controllers.pod_faults.get((pod["metadata"]["namespace"], name)) in ("crash", "fail")
        attempt = restarts - 1 if previous else restarts
        if previous:
            end = started - 0.001
            started = end - controllers.delays["crash_after"]
        else:
            end = None

        def entries(first_index, until):
            count = int((until - started) / interval) + 1
            for index in range(first_index, max(first_index, count)):
                sim = started + index * interval
                level, message = self.line(pod, container, attempt, index, latency)
                yield index, sim, level, message

        def render(sim, level, message):
            # simulated moments map back onto real wall-clock time, like every other timestamp the sandbox writes
            stamp = datetime.fromtimestamp(clock.real_time(sim), tz=UTC)
            text = f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')}.{stamp.microsecond // 1000:03d}Z {level:<5} {message}\n"
            if query.get("timestamps") in ("true", "1"):
                text = f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')}.{stamp.microsecond * 1000:09d}Z " + text
            return text

        now = clock.now()
        until = end if end is not None else now
        if (status.get("state") or {}).get("terminated") or (status.get("state") or {}).get("waiting"):
            until = min(until, started + controllers.delays["crash_after"]) if crashing or previous else until
        lines = list(entries(0, until))
        since = query.get("sinceSeconds")
        if since:
            cutoff = now - float(since) * clock.speed
            lines = [entry for entry in lines if entry[1] >= cutoff]
        since_time = query.get("sinceTime")
        if since_time:
            moment = datetime.strptime(since_time[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            lines = [entry for entry in lines if clock.real_time(entry[1]) >= moment.timestamp()]
        tail = query.get("tailLines")
        if tail not in (None, ""):
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        text = "".join(render(sim, level, message) for _, sim, level, message in lines)
        if crashing or previous:
            text += render(
                until, "ERROR", "fatal: dial tcp 10.96.0.42:5432: connect: connection refused; exiting with code 1"
            )
        limit = query.get("limitBytes")
        if limit:
            text = text[: int(limit)]
        if query.get("follow") not in ("true", "1") or previous or end is not None:
            return Response(text=text)
        next_index = (lines[-1][0] + 1) if lines else int((until - started) / interval) + 1
        uid = pod["metadata"]["uid"]
        namespace = pod["metadata"]["namespace"]
        store = self.cluster.store
        stopping = self.cluster.stopping

        def follow(next_index=next_index):
            yield text.encode()
            while not stopping.is_set():
                time.sleep(min(0.2, clock.real_seconds(interval)))
                current = store.objects.get(("pods", namespace, name))
                if current is None or current["metadata"]["uid"] != uid:
                    return
                state = next(
                    (
                        s.get("state") or {}
                        for s in (current.get("status") or {}).get("containerStatuses") or []
                        if s.get("name") == container
                    ),
                    {},
                )
                if "running" not in state:
                    return
                chunk = []
                for index, sim, level, message in entries(next_index, clock.now()):
                    chunk.append(render(sim, level, message))
                    next_index = index + 1
                if chunk:
                    yield "".join(chunk).encode()

        response = Response(text="")
        response.stream = follow()
        return response

    def process_output(self, pod, container, run, query):
        """What a run-to-completion container's process wrote (processes.py), each line at the moment it
        was written in simulated time; `follow` streams them until the container ends."""
        clock = self.cluster.controllers.clock
        delays = self.cluster.controllers.delays
        process = run.process
        spread = max(0.0, run_seconds(pod, delays))
        count = len(process.output)
        started = run.run_started if run.run_started is not None else clock.now()
        moments = [started + offset + spread * (i + 1) / (count + 1) for i, (offset, _) in enumerate(process.output)]

        def render(index):
            text = process.output[index][1] + "\n"
            if query.get("timestamps") in ("true", "1"):
                sim = moments[index]
                stamp = datetime.fromtimestamp(clock.real_time(sim), tz=UTC)
                text = f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')}.{stamp.microsecond * 1000:09d}Z " + text
            return text

        def visible(now):
            return [i for i in range(count) if moments[i] <= now]

        shown = visible(clock.now())
        tail = query.get("tailLines")
        if tail not in (None, ""):
            shown = shown[-int(tail) :] if int(tail) > 0 else []
        text = "".join(render(i) for i in shown)
        limit = query.get("limitBytes")
        if limit:
            text = text[: int(limit)]
        if query.get("follow") not in ("true", "1"):
            return Response(text=text)
        uid, namespace, name = pod["metadata"]["uid"], pod["metadata"]["namespace"], pod["metadata"]["name"]
        store, stopping = self.cluster.store, self.cluster.stopping
        next_index = (shown[-1] + 1) if shown else len(visible(clock.now()))

        def follow(next_index=next_index):
            yield text.encode()
            while not stopping.is_set():
                time.sleep(0.1)
                current = store.objects.get(("pods", namespace, name))
                if current is None or current["metadata"]["uid"] != uid:
                    return
                now = clock.now()
                chunk = []
                while next_index < count and moments[next_index] <= now:
                    chunk.append(render(next_index))
                    next_index += 1
                if chunk:
                    yield "".join(chunk).encode()
                state = next(
                    (
                        s.get("state") or {}
                        for s in (current.get("status") or {}).get("containerStatuses") or []
                        if s.get("name") == container
                    ),
                    {},
                )
                if "running" not in state and next_index >= count:
                    return

        response = Response(text="")
        response.stream = follow()
        return response


_ = timedelta
