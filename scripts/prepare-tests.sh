#!/usr/bin/env bash
# What the test suite needs on a fresh Debian machine: the packages it drives (Chromium,
# fonts for Chinese screenshots, gettext, Ceph), and PostgreSQL and Redis answering on
# loopback. Safe to run again: it installs and starts only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)   # Chinese pages in screenshots
command -v xgettext >/dev/null || missing+=(gettext)   # the catalogue test runs makemessages
command -v redis-server >/dev/null || missing+=(redis-server)
ls /etc/postgresql/*/main >/dev/null 2>&1 || missing+=(postgresql)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v nginx >/dev/null || missing+=(nginx)   # run-production.sh's proxy (tests/integration/test_production_run.py)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A real Prometheus for the metrics tests (tests/metrics/test_prometheus.py starts it on loopback,
# scraping the sandbox's node-exporter- and cAdvisor-shaped endpoints); no exporters of its own.
if ! command -v prometheus >/dev/null; then
    echo "installing: prometheus"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# ClickHouse for the log store's second implementation (tests/logs/test_clickhouse.py starts a
# throwaway server on loopback with its own config; Debian's 18.16).
if ! [ -x /usr/sbin/clickhouse-server ]; then
    echo "installing: clickhouse-server"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends clickhouse-server >/dev/null
fi

# A throwaway Ceph for the storage tests (scripts/ceph-dev.sh starts it), and its Python bindings.
# Without recommends: no dashboard and its dependencies.
ceph_missing=()
for pkg in ceph-mon ceph-osd ceph-mgr ceph-common python3-rbd python3-rados; do
    dpkg -s "$pkg" >/dev/null 2>&1 || ceph_missing+=("$pkg")
done
if [ ${#ceph_missing[@]} -gt 0 ]; then
    echo "installing: ${ceph_missing[*]}"
    [ ${#missing[@]} -gt 0 ] || apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${ceph_missing[@]}" >/dev/null
fi
# Debian builds python3-rados/python3-rbd for its own CPython 3.11: link just those two modules
# into the project's venv (make's install step does the same when it creates the venv).
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$root/.venv/bin/python" ]; then
    bash "$root/scripts/ceph-dev.sh" bindings "$root/.venv"
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    cluster=$(ls /etc/postgresql | head -n1)
    hba=/etc/postgresql/$cluster/main/pg_hba.conf
    # A fresh package install asks for passwords on TCP; the tests connect as postgres on loopback.
    grep -q "caas-console" "$hba" || sed -i '1i host all postgres 127.0.0.1/32 trust # caas-console tests' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 1
done
pg_isready -h 127.0.0.1 -p 5432
redis-cli -h 127.0.0.1 -p 6379 ping

