"""A log collector's wire formats, without the collector: fluentd and Fluent Bit cannot be
installed from this project's package sources, so tests and bench/logs.py send what they
would send, built from their documentation:

- fluentd `out_http` (docs.fluentd.org/output/http): the body is the buffer chunk's records
  in the <format> section's format. `@type json` with `json_array true` is one JSON array
  (Content-Type application/json); with `json_array false` (the default) one JSON object per
  line (application/x-ndjson); `@type msgpack` concatenated MessagePack maps
  (application/x-msgpack). `compress gzip` gzips the body and sets Content-Encoding: gzip.
  Records carry no event time unless an <inject> section adds it (time_key time,
  time_type string: ISO 8601); in_tail with the cri parser and the kubernetes_metadata
  filter give {"log", "stream", "logtag", "time", "kubernetes": {namespace_name, pod_name,
  container_name, host, labels, ...}}. Headers (Authorization) come from `headers`.
- Fluent Bit's `http` output (docs.fluentbit.io, outputs/http): `format json` is a JSON array
  of records with the time under json_date_key (default "date", a double of epoch seconds);
  `json_lines` one object per line (application/json on older versions, x-ndjson since 3.0);
  `msgpack` is its own event stream: [[time, metadata], record] (or [time, record] before 2.1),
  the time an EventTime (msgpack extension type 0).

    python bench/logs_loadgen.py URL TOKEN [--format json|ndjson|msgpack|fluentbit-json|...]
                                 [--lines-per-batch 1000] [--batches 100] [--gzip] [--threads 4]
"""

import argparse
import gzip
import json
import random
import struct
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import msgpack

FORMATS = ("json", "ndjson", "msgpack", "fluentbit-json", "fluentbit-json_lines", "fluentbit-msgpack")
WORDS = (
    "GET /api/orders 200 12ms",
    "POST /api/cart 201 31ms",
    "connection reset by peer",
    "cache miss for key user:%d",
    "ERROR payment gateway timeout after 3000ms",
    "WARN slow query on orders (412ms)",
    "INFO worker started pid=%d",
    "user %d signed in",
)


def container_record(namespace, pod, container, message, *, app="web", moment=None, node="node-1"):
    """One record as fluentd's in_tail (cri parser) + kubernetes_metadata make it."""
    moment = moment or datetime.now(UTC)
    return {
        "log": message + "\n",
        "stream": "stderr" if "ERROR" in message else "stdout",
        "logtag": "F",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "docker": {"container_id": f"{abs(hash((pod, container))):x}"[:12]},
        "kubernetes": {
            "container_name": container,
            "namespace_name": namespace,
            "pod_name": pod,
            "container_image": "nginx:1.27",
            "pod_id": f"uid-{pod}",
            "host": node,
            "labels": {"app.kubernetes.io/name": app, "pod-template-hash": "5d8f7"},
            "namespace_labels": {"kubernetes.io/metadata.name": namespace},
        },
    }


def component_record(component, message, *, node="master-1", moment=None):
    """A control-plane component's line, as the component tail source tags it."""
    moment = moment or datetime.now(UTC)
    return {"message": message, "component": component, "host": node, "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def sample_records(n, *, namespaces=("acme-web",), seed=None):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        namespace = namespaces[i % len(namespaces)]
        pod = f"web-5d8f7-{rnd.randrange(10):05d}"
        text = rnd.choice(WORDS)
        if "%d" in text:
            text = text % rnd.randrange(100000)
        out.append(container_record(namespace, pod, "web", f"{text} seq={i}"))
    return out


def encode(records, fmt="json", *, compress=False):
    """(body, headers) exactly as the collector would post them."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt}")
    if fmt == "json":
        body, kind = json.dumps(records, separators=(",", ":")).encode(), "application/json"
    elif fmt == "ndjson":
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        kind = "application/x-ndjson"
    elif fmt == "msgpack":
        body, kind = b"".join(msgpack.packb(r) for r in records), "application/x-msgpack"
    else:
        bit = [_fluent_bit(r) for r in records]
        if fmt == "fluentbit-json":
            body, kind = json.dumps(bit, separators=(",", ":")).encode(), "application/json"
        elif fmt == "fluentbit-json_lines":
            body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in bit).encode()
            kind = "application/json"
        else:
            body = b"".join(msgpack.packb([[event_time(r.pop("date")), {}], r]) for r in bit)
            kind = "application/x-msgpack"
    headers = {"Content-Type": kind}
    if compress:
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def event_time(seconds):
    """Fluent Bit's msgpack timestamp: an EventTime (extension type 0: seconds and nanoseconds,
    big-endian 32-bit integers), as flb_time_append_to_msgpack writes it by default."""
    whole, nanoseconds = divmod(round(seconds * 1_000_000_000), 1_000_000_000)
    return msgpack.ExtType(0, struct.pack(">II", whole, nanoseconds))


def _fluent_bit(record):
    """Fluent Bit keeps the time apart from the record: `date` (epoch seconds) in json formats."""
    record = dict(record)
    moment = datetime.fromisoformat(record.pop("time"))
    record["date"] = moment.timestamp()
    return record


def post(url, token, body, headers, timeout=30):
    request = urllib.request.Request(
        url, data=body, method="POST", headers={**headers, "Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def run(url, token, *, fmt, lines_per_batch, batches, compress, threads):
    """Post `batches` batches from `threads` threads, retrying 429s after Retry-After like fluentd's
    buffer does. Returns (lines stored, seconds, statuses)."""
    bodies = [encode(sample_records(lines_per_batch, seed=i), fmt, compress=compress) for i in range(min(batches, 20))]
    statuses = {}
    lock = threading.Lock()
    todo = list(range(batches))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                n = todo.pop()
            body, headers = bodies[n % len(bodies)]
            while True:
                status, _answer, answer_headers = post(url, token, body, headers)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                if status != 429:
                    break
                time.sleep(float(answer_headers.get("Retry-After", "1")))

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return statuses.get(200, 0) * lines_per_batch, time.perf_counter() - started, statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--format", default="json", choices=FORMATS)
    parser.add_argument("--lines-per-batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    lines, seconds, statuses = run(
        args.url,
        args.token,
        fmt=args.format,
        lines_per_batch=args.lines_per_batch,
        batches=args.batches,
        compress=args.gzip,
        threads=args.threads,
    )
    print(f"{lines} lines in {seconds:.2f} s: {lines / seconds:,.0f} lines/s; statuses {statuses}")


if __name__ == "__main__":
    main()
