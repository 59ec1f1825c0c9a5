"""Per-node metrics endpoints a real Prometheus scrapes: node-exporter-shaped /metrics and
kubelet-cAdvisor-shaped /metrics/cadvisor, one pair per node, on a plain-HTTP listener of
their own (as node-exporter's :9100 and a kubelet's read-only port are):

    GET /nodes/<node>/metrics            node_cpu_seconds_total, node_memory_*, node_filesystem_*,
                                         node_network_*_bytes_total, node_disk_*_bytes_total, node_procs_*
    GET /nodes/<node>/metrics/cadvisor   container_cpu_usage_seconds_total, container_memory_working_set_bytes,
                                         container_network_*_bytes_total, container_fs_usage_bytes, container_processes

Values follow the sandbox's load: counters grow by the current rate (CPU cores from the
metrics model, network and disk bytes in proportion to CPU) over real time, so rate() over
them gives back the load the knobs set. Text exposition format 0.0.4.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .kinds import STORED
from .metrics import SYSTEM_CPU, SYSTEM_MEMORY, _seed

BYTES_PER_CORE = 2_000_000  # network and disk bytes a second per busy core
NODE_CORES = 8


class Counters:
    """Monotonic counters integrated over real time: add(key, rate) -> the value now."""

    def __init__(self):
        self.values, self.seen, self.lock = {}, {}, threading.Lock()

    def add(self, key, rate, now):
        with self.lock:
            last = self.seen.get(key)
            value = self.values.get(key, 1000.0 * (1 + _seed(str(key))))
            if last is not None:
                value += max(rate, 0.0) * (now - last)
            self.values[key], self.seen[key] = value, now
            return value


def _labels(**labels):
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class Exporters:
    def __init__(self, cluster):
        self.cluster = cluster
        self.counters = Counters()
        self.httpd = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}" if self.httpd else None

    def start(self):
        exporters = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                text = exporters.render(self.path.split("?", 1)[0])
                if text is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="sandbox-exporters", daemon=True).start()
        return self.url

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def render(self, path):
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "nodes":
            return None
        node = parts[1]
        if self.cluster.store.get_ref(STORED["nodes"], "", node) is None:
            return None
        if self.cluster.controllers.node_faults.get(node) == "NotReady":
            return None  # a NotReady node's exporters do not answer
        if parts[2:] == ["metrics"]:
            return self.node_exporter(node)
        if parts[2:] == ["metrics", "cadvisor"]:
            return self.cadvisor(node)
        return None

    def _pods(self, node):
        metrics = self.cluster.metrics
        for pod in self.cluster.store.iter_refs(STORED["pods"]):
            if (pod.get("spec") or {}).get("nodeName") == node and metrics.running(pod):
                yield pod

    def node_exporter(self, node):
        now = time.time()
        metrics = self.cluster.metrics
        cpu = SYSTEM_CPU
        memory = SYSTEM_MEMORY
        procs = 40
        for pod in self._pods(node):
            usage = metrics.pod_usage_totals(pod)
            cpu, memory = cpu + usage["cpu"], memory + usage["memory"]
            procs += len((pod.get("spec") or {}).get("containers") or [])
        busy = min(cpu, NODE_CORES)
        total_memory = 32 * 2**30
        lines = [
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.",
            "# TYPE node_cpu_seconds_total counter",
        ]
        for index in range(NODE_CORES):
            share = busy / NODE_CORES
            for mode, rate in (("user", share * 0.8), ("system", share * 0.2), ("idle", 1 - share)):
                value = self.counters.add((node, "cpu", index, mode), rate, now)
                lines.append(f"node_cpu_seconds_total{_labels(cpu=str(index), mode=mode)} {value:.3f}")
        lines += [
            "# TYPE node_memory_MemTotal_bytes gauge",
            f"node_memory_MemTotal_bytes {total_memory}",
            "# TYPE node_memory_MemAvailable_bytes gauge",
            f"node_memory_MemAvailable_bytes {max(total_memory - int(memory), 0)}",
            "# TYPE node_load1 gauge",
            f"node_load1 {cpu:.3f}",
            "# TYPE node_procs_running gauge",
            f"node_procs_running {max(1, round(cpu))}",
            "# TYPE node_procs_blocked gauge",
            "node_procs_blocked 0",
            "# TYPE node_processes_threads gauge",
            f"node_processes_threads {procs * 4}",
        ]
        size = 100 * 2**30
        used = size * (0.2 + 0.1 * _seed(node + "fs"))
        if self.cluster.controllers.node_faults.get(node) == "DiskPressure":
            used = size * 0.95
        fs = _labels(device="/dev/vda1", fstype="ext4", mountpoint="/")
        lines += [
            "# TYPE node_filesystem_size_bytes gauge",
            f"node_filesystem_size_bytes{fs} {size}",
            "# TYPE node_filesystem_avail_bytes gauge",
            f"node_filesystem_avail_bytes{fs} {int(size - used)}",
        ]
        for name, device, rate in (
            ("node_network_receive_bytes_total", "eth0", busy * BYTES_PER_CORE),
            ("node_network_transmit_bytes_total", "eth0", busy * BYTES_PER_CORE * 0.6),
            ("node_disk_read_bytes_total", "vda", busy * BYTES_PER_CORE * 0.3),
            ("node_disk_written_bytes_total", "vda", busy * BYTES_PER_CORE * 0.5),
        ):
            label = "device"
            value = self.counters.add((node, name, device), rate, now)
            lines += [f"# TYPE {name} counter", f"{name}{_labels(**{label: device})} {value:.0f}"]
        return "\n".join(lines) + "\n"

    def cadvisor(self, node):
        now = time.time()
        metrics = self.cluster.metrics
        rows = {name: [] for name in CADVISOR_TYPES}
        for pod in self._pods(node):
            meta = pod["metadata"]
            pod_cpu = 0.0
            for container in (pod.get("spec") or {}).get("containers") or []:
                cpu, memory = metrics.container_usage(pod, container, self.cluster.clock.now())
                pod_cpu += cpu
                labels = _labels(
                    namespace=meta["namespace"],
                    pod=meta["name"],
                    container=container.get("name", ""),
                    image=container.get("image", ""),
                )
                key = (meta["uid"], container.get("name"))
                rows["container_cpu_usage_seconds_total"].append(
                    f"{labels} {self.counters.add(key + ('cpu',), cpu, now):.3f}"
                )
                rows["container_memory_working_set_bytes"].append(f"{labels} {int(memory)}")
                rows["container_fs_usage_bytes"].append(f"{labels} {int(4 * 2**20 + memory / 8)}")
                rows["container_processes"].append(f"{labels} {1 + int(cpu * 4)}")
            net = _labels(namespace=meta["namespace"], pod=meta["name"], interface="eth0")
            for name, factor in (
                ("container_network_receive_bytes_total", 1.0),
                ("container_network_transmit_bytes_total", 0.6),
            ):
                value = self.counters.add((meta["uid"], name), pod_cpu * BYTES_PER_CORE * factor, now)
                rows[name].append(f"{net} {value:.0f}")
        lines = []
        for name, kind in CADVISOR_TYPES.items():
            lines.append(f"# TYPE {name} {kind}")
            lines += [f"{name}{row}" for row in rows[name]]
        return "\n".join(lines) + "\n"


CADVISOR_TYPES = {
    "container_cpu_usage_seconds_total": "counter",
    "container_memory_working_set_bytes": "gauge",
    "container_fs_usage_bytes": "gauge",
    "container_processes": "gauge",
    "container_network_receive_bytes_total": "counter",
    "container_network_transmit_bytes_total": "counter",
}
