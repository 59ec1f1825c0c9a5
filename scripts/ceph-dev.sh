#!/usr/bin/env bash
# A throwaway single-node Ceph for development and tests, from Debian's packages
# (apt-get install ceph-mon ceph-osd ceph-mgr ceph-common python3-rbd python3-rados;
# scripts/prepare-tests.sh does it). One mon, one mgr, one OSD on loopback only; the OSD keeps
# its data in RAM (memstore), so nothing outlives `stop`.
#
#   scripts/ceph-dev.sh start      start it (says so when it is running already)
#   scripts/ceph-dev.sh status     health as JSON (exit 3 when not running)
#   scripts/ceph-dev.sh stop       kill the daemons and remove the directory
#   scripts/ceph-dev.sh env        the console's settings for it (CEPH_CONF, CEPH_KEYRING, CEPH_CLIENT)
#   scripts/ceph-dev.sh bindings VENV   make Debian's rados/rbd bindings importable in VENV
#   scripts/ceph-dev.sh release ID      a test session is done with it: see "Leases" below
#
# Environment: CEPH_DEV_DIR (default /tmp/caas-ceph-dev), CEPH_DEV_PORT (the mon's port; default a
# free one), CEPH_DEV_OSD_BYTES (the memstore's capacity, default 1 GiB), CEPH_DEV_BACKUP_POOL
# (default caas-backups), CEPH_DEV_LEASE (see below), CEPH_DEV_TIMEOUT (seconds to wait, default 120).
#
# Leases: test sessions (pytest-xdist workers) share one instance. `start` with CEPH_DEV_LEASE=ID
# (ID: the user's process id, or PID-TAG when one process holds several) records the lease;
# `release ID` drops it and stops Ceph when it was started under a lease and no lease of a live
# process is left. An instance started by hand (no lease) is never stopped by tests.
set -euo pipefail

DIR=${CEPH_DEV_DIR:-/tmp/caas-ceph-dev}
DIR=${DIR%/}
[ -n "$DIR" ] || { echo "ceph-dev: CEPH_DEV_DIR may not be /" >&2; exit 2; }
BACKUP_POOL=${CEPH_DEV_BACKUP_POOL:-caas-backups}
OSD_BYTES=${CEPH_DEV_OSD_BYTES:-1073741824}
TIMEOUT=${CEPH_DEV_TIMEOUT:-120}
CLIENT=client.caas
CONF=$DIR/ceph.conf
ADMIN=(ceph -c "$CONF" -n client.admin -k "$DIR/admin.keyring" --connect-timeout 10)

log() { echo "ceph-dev: $*" >&2; }
die() { log "$*"; exit 1; }
# Run a command, showing its output only when it fails (then stop).
quiet() { local out; out=$("$@" 2>&1) || die "$1 ${*:2:3}... failed: $out"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

need_packages() {
    local missing=()
    for cmd in ceph-mon ceph-osd ceph-mgr ceph ceph-authtool monmaptool rbd; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        die "missing ${missing[*]}: apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr" \
            "ceph-common python3-rbd python3-rados (or: make prepare-tests)"
    fi
}

# One lock for start, stop and release: the parent directory itself (flock on a directory
# leaves no lock file behind when the instance is gone). The daemons are started with fd 9
# closed, or they would hold the lock for as long as they live.
with_lock() {
    mkdir -p "$(dirname "$DIR")"
    exec 9<"$(dirname "$DIR")"
    flock -w "$TIMEOUT" 9 || die "another ceph-dev.sh holds the lock on $(dirname "$DIR")"
}

# A directory this script made (and so may remove).
ours() { [ -d "$DIR/run" ] && [ -d "$DIR/leases" ]; }

pid_of() { cat "$DIR/run/$1.pid" 2>/dev/null || true; }
# A process that exists and is not a zombie (a killed daemon waits for init to reap it).
pid_alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && pid_alive "$pid"; }
running() { [ -f "$CONF" ] && alive mon.a && alive osd.0 && alive mgr.x; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
    local fsid=$1 port=$2
    cat >"$CONF" <<EOF
# Written by scripts/ceph-dev.sh: a throwaway single-node cluster on loopback.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.1/32
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
mgr data = $DIR/mgr/\$cluster-\$id
# One OSD: one copy of everything, and say so without a warning.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
# Map changes commit in 0.1 s instead of 1 s, and placement group states reach the mgr and the
# mon every second instead of every 5: pools are known to be usable (and health OK) sooner.
paxos propose interval = 0.1
mgr stats period = 1
mon mgr digest period = 1
# /tmp on a busy machine may well be less than 30% free: not a health problem for a throwaway.
mon data avail warn = 2
mon data avail crit = 1
# The default modules need packages this install leaves out (restful: pecan); none are used.
mgr initial modules = iostat
osd objectstore = memstore
memstore device bytes = $OSD_BYTES

# The ceph CLI looks for client.admin's key before it reads -k: name it here, or it warns.
[client.admin]
keyring = $DIR/admin.keyring

[$CLIENT]
keyring = $DIR/caas.keyring
EOF
}

start_ended() {
    [ "$1" -eq 0 ] || [ -z "${CREATED:-}" ] || { kill_daemons; log "start failed: see $DIR/log (stop removes it)"; }
}

do_start() {
    need_packages
    [ -z "${CEPH_DEV_LEASE:-}" ] || valid_lease "$CEPH_DEV_LEASE"
    if running; then
        log "already running in $DIR (mon $(grep '^mon host' "$CONF" | cut -d' ' -f4))"
        add_lease
        return 0
    fi
    if [ -e "$DIR" ]; then
        ours || die "$DIR exists and is not a ceph-dev.sh directory: choose another CEPH_DEV_DIR"
        log "removing the leftovers of a stopped instance in $DIR"
        kill_daemons
        rm -rf "$DIR"
    fi
    local t0 fsid port osd_uuid
    t0=$(now)
    fsid=$(uuidgen)
    port=${CEPH_DEV_PORT:-$(free_port)}
    mkdir -p "$DIR"/{run,log,mon/ceph-a,osd/ceph-0,mgr/ceph-x,leases}
    CREATED=1  # from here on, a failure kills what this start started
    chmod 700 "$DIR"
    write_conf "$fsid" "$port"
    [ -n "${CEPH_DEV_LEASE:-}" ] && echo "leases" >"$DIR/started-for"

    # Keys: mon., client.admin (this script only), then the console's restricted client.
    ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$DIR/admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/admin.keyring" >/dev/null
    monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" "$DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" >/dev/null
    ceph-mon -c "$CONF" -i a 9<&-
    wait_for "the monitor" "${ADMIN[@]}" mon stat

    "${ADMIN[@]}" auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
        -o "$DIR/mgr/ceph-x/keyring" >/dev/null
    ceph-mgr -c "$CONF" -i x 9<&-

    osd_uuid=$(uuidgen)
    local osd_id
    osd_id=$("${ADMIN[@]}" osd new "$osd_uuid")
    [ "$osd_id" = 0 ] || die "expected osd.0, the mon made osd.$osd_id"
    "${ADMIN[@]}" auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
        -o "$DIR/osd/ceph-0/keyring" >/dev/null
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1 \
        || die "ceph-osd --mkfs failed: $(tail -n 20 "$DIR/log/osd.0.log")"
    ceph-osd -c "$CONF" -i 0 >/dev/null 2>&1 9<&-
    wait_for "the OSD" osd_up

    quiet "${ADMIN[@]}" osd pool create rbd
    quiet "${ADMIN[@]}" osd pool create "$BACKUP_POOL"
    quiet rbd -c "$CONF" -n client.admin -k "$DIR/admin.keyring" pool init rbd
    # The backup pool holds plain RADOS objects (the backup artefacts) written through the rbd profile.
    quiet "${ADMIN[@]}" osd pool application enable "$BACKUP_POOL" rbd

    # The console's client: the rbd profile on both pools. `profile rbd` for the mon also allows the
    # read-only commands the gateway uses (status, health, df, osd pool ls detail).
    "${ADMIN[@]}" auth get-or-create "$CLIENT" mon 'profile rbd' \
        osd "profile rbd pool=rbd, profile rbd pool=$BACKUP_POOL" -o "$DIR/caas.keyring" >/dev/null
    chmod 600 "$DIR"/*.keyring
    wait_for "writable pools" pools_writable
    log "pools usable after $(since "$t0") s (mon on 127.0.0.1:$port, dir $DIR)"
    TIMEOUT=$((TIMEOUT < 30 ? TIMEOUT : 30)) wait_for "HEALTH_OK" health_ok || true
    log "health $(health_status) after $(since "$t0") s"
    add_lease
}

# A pool is usable when an object can be written to it (placement group states reach `ceph pg stat`
# seconds later than that).
pools_writable() {
    local pool
    for pool in rbd "$BACKUP_POOL"; do
        echo probe | rados -c "$CONF" -n client.admin -k "$DIR/admin.keyring" --rados-osd-op-timeout 5 \
            -p "$pool" put ceph-dev-probe - || return 1
        rados -c "$CONF" -n client.admin -k "$DIR/admin.keyring" -p "$pool" rm ceph-dev-probe || return 1
    done
}

osd_up() { "${ADMIN[@]}" osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; }

health_status() {
    "${ADMIN[@]}" health -f json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'
}
health_ok() { [ "$(health_status)" = HEALTH_OK ]; }

wait_for() {
    local what=$1; shift
    local deadline=$(($(date +%s) + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "gave up waiting for $what after ${TIMEOUT}s; logs in $DIR/log"
            return 1
        fi
        sleep 0.2
    done
}

# SIGKILL: nothing of a throwaway cluster is worth keeping, and on SIGTERM the memstore OSD would
# first write all its data to disk (seconds).
kill_daemons() {
    local pids=() pid
    for name in osd.0 mgr.x mon.a; do
        pid=$(pid_of "$name")
        [ -n "$pid" ] && pid_alive "$pid" && kill -9 "$pid" 2>/dev/null && pids+=("$pid")
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
    done
    return 0
}

do_stop() {
    if [ ! -e "$DIR" ]; then
        log "not running ($DIR does not exist)"
        return 0
    fi
    ours || die "$DIR does not look like a ceph-dev.sh directory; not removing it"
    kill_daemons
    rm -rf "$DIR"
    log "stopped; removed $DIR"
}

do_status() {
    if ! running; then
        echo '{"running": false, "dir": "'"$DIR"'"}'
        return 3
    fi
    local health
    health=$("${ADMIN[@]}" health detail -f json 2>/dev/null || echo null)
    python3 - "$DIR" "$CONF" "$CLIENT" "$health" "$(pid_of mon.a) $(pid_of mgr.x) $(pid_of osd.0)" <<'EOF'
import json, sys
d, conf, client, health, pids = sys.argv[1:]
rss = {}
for name, pid in zip(("mon.a", "mgr.x", "osd.0"), pids.split()):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss[name] = next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))
    except (OSError, StopIteration):  # it ended meanwhile
        rss[name] = None
print(json.dumps({"running": True, "dir": d, "conf": conf, "keyring": f"{d}/caas.keyring", "client": client,
                  "health": json.loads(health), "rss_mib": rss}, indent=1))
EOF
}

do_env() {
    running || die "not running (scripts/ceph-dev.sh start)"
    echo "CEPH_CONF=$CONF"
    echo "CEPH_KEYRING=$DIR/caas.keyring"
    echo "CEPH_CLIENT=$CLIENT"
}

# A lease id: the process id of the user, maybe followed by "-TAG" (several leases of one process).
valid_lease() { [[ $1 =~ ^[0-9]+(-[A-Za-z0-9_.]+)?$ ]] || die "a lease id is PID or PID-TAG, not '$1'"; }

add_lease() {
    [ -n "${CEPH_DEV_LEASE:-}" ] || return 0
    mkdir -p "$DIR/leases"
    touch "$DIR/leases/$CEPH_DEV_LEASE"
}

do_release() {
    local id=${1:?release needs the lease id}
    valid_lease "$id"
    [ -d "$DIR" ] || return 0
    rm -f "$DIR/leases/$id"
    [ -f "$DIR/started-for" ] || { log "started by hand: leaving it running"; return 0; }
    local lease
    for lease in "$DIR"/leases/*; do
        [ -e "$lease" ] || continue
        # A lease is named by a process id (a pytest worker), then maybe "-" and a tag; one whose process
        # is gone does not count.
        if pid_alive "$(basename "$lease" | cut -d- -f1)"; then
            log "still used (lease $(basename "$lease")): leaving it running"
            return 0
        fi
    done
    do_stop
}

# Debian builds python3-rados/python3-rbd for its own CPython; link ONLY those two extension
# modules into VENV (a directory of symlinks plus a .pth naming it) when the ABI matches.
do_bindings() {
    local venv=${1:?bindings needs the venv directory}
    local py=$venv/bin/python
    [ -x "$py" ] || die "no python in $venv"
    local suffix site links
    suffix=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
    site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    links=$(cd "$venv" && pwd)/ceph-bindings
    local found=0 module
    for module in rados rbd; do
        [ -f "/usr/lib/python3/dist-packages/$module$suffix" ] && found=$((found + 1))
    done
    if [ "$found" -ne 2 ]; then
        log "no Debian rados/rbd bindings for $suffix in /usr/lib/python3/dist-packages: Ceph stays unavailable" \
            "to this venv (apt-get install python3-rados python3-rbd; they must match the venv's Python)"
        rm -f "$site/caas-ceph-bindings.pth"
        return 0
    fi
    mkdir -p "$links"
    for module in rados rbd; do
        ln -sfn "/usr/lib/python3/dist-packages/$module$suffix" "$links/$module$suffix"
    done
    echo "$links" >"$site/caas-ceph-bindings.pth"
    "$py" -c 'import rados, rbd' || die "the linked bindings do not import in $venv"
}

case "${1:-}" in
    start)
        with_lock
        # A start that fails half-way leaves no daemon behind (the logs stay for a look).
        trap 'start_ended $?' EXIT
        do_start
        ;;
    stop) with_lock; do_stop ;;
    status) do_status ;;
    env) do_env ;;
    release) with_lock; do_release "${2:-}" ;;
    bindings) do_bindings "${2:-}" ;;
    *) echo "usage: $0 start|stop|status|env|release ID|bindings VENV" >&2; exit 2 ;;
esac
