#!/usr/bin/env bash
# The production-shaped run by hand, without Docker: migrate, collectstatic, N daphne web
# processes on consecutive ports behind nginx (when installed), Celery worker(s), beat and
# the watcher, each logging to a file in the run folder. Ctrl-C (or `run-production.sh stop` from another terminal)
# stops them all.
#
#   DATABASE_URL=postgres://... REDIS_URL=redis://... scripts/run-production.sh [options]
#   scripts/run-production.sh stop [--dir DIR]
#
# Options: --web N (daphne processes, default 2), --port P (the console's port, default
# 8000: nginx there and the daphnes on the next ones; without nginx, or with --no-proxy,
# the daphnes from P on and no proxy),
# --host H (default 127.0.0.1), --workers N (worker processes, default 1),
# --concurrency N (tasks at a time per worker, default: cores), --sandbox (also start the
# sandbox cluster with demo workloads and register it as cluster "sandbox", with the demo
# tenant), --dir DIR (pids, logs, beat schedule; default var/production).
#
# SECRET_KEY is generated once into DIR/secret_key when unset. ALLOWED_HOSTS defaults to
# 127.0.0.1,localhost and CONSOLE_HTTPS to false (plain HTTP on loopback): set both when
# the console is served behind a TLS proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${VENV_BIN:-$ROOT/.venv/bin}
[ -x "$BIN/python" ] || BIN=$(dirname "$(command -v python3)")

command=start
if [ "${1:-}" = "start" ] || [ "${1:-}" = "stop" ]; then command=$1; shift; fi
web=2 port=8000 host=127.0.0.1 workers=1 concurrency=$(nproc) sandbox=0 dir=var/production
proxy=0; command -v nginx >/dev/null && proxy=1
while [ $# -gt 0 ]; do
    case $1 in
        --web) web=$2; shift ;;
        --port) port=$2; shift ;;
        --host) host=$2; shift ;;
        --workers) workers=$2; shift ;;
        --concurrency) concurrency=$2; shift ;;
        --sandbox) sandbox=1 ;;
        --no-proxy) proxy=0 ;;
        --dir) dir=$2; shift ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
pids=$dir/pids

stop_all() {
    # Only the processes this script started, by their ids; TERM first (they finish what
    # they are doing: the worker its current task), KILL what is left after 20 s.
    [ -f "$pids" ] || return 0
    local list
    list=$(cut -d' ' -f1 "$pids")
    for pid in $list; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 200); do
        local alive=0
        for pid in $list; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in $list; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -f "$pids"
    echo "stopped"
}

if [ "$command" = stop ]; then
    stop_all
    exit 0
fi
if [ -f "$pids" ]; then
    echo "$pids exists: a run is going on in $dir (scripts/run-production.sh stop --dir $dir)" >&2
    exit 1
fi

: "${DATABASE_URL:?set DATABASE_URL (postgres://user:password@host:5432/name)}"
: "${REDIS_URL:?set REDIS_URL (redis://host:6379/0)}"
if [ -z "${SECRET_KEY:-}" ]; then
    [ -s "$dir/secret_key" ] || (umask 077 && "$BIN/python" -c "import secrets; print(secrets.token_urlsafe(50))" > "$dir/secret_key")
    SECRET_KEY=$(cat "$dir/secret_key")
fi
export CONSOLE_ENV=production SECRET_KEY DATABASE_URL REDIS_URL PYTHONUNBUFFERED=1
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
export CONSOLE_HTTPS=${CONSOLE_HTTPS:-false}
export CONSOLE_STATE_DIR=${CONSOLE_STATE_DIR:-$dir}   # files the console keeps (the operation log's anchor)
# Behind the proxy every request comes from it: take the client's address from the
# X-Forwarded-For entry it appends, so sign-in limits count people, not the proxy.
[ $proxy = 1 ] && export TRUST_X_FORWARDED_FOR=${TRUST_X_FORWARDED_FOR:-true}
first_web=$((port + proxy))   # the daphnes' first port

start() {  # start NAME COMMAND...: in the background, output to logs/NAME.log
    local name=$1; shift
    "$@" >"$dir/logs/$name.log" 2>&1 &
    echo "$! $name" >>"$pids"
}

for i in $(seq 0 $((web - 1 + proxy))); do   # another server there would answer for ours
    if (exec 3<>"/dev/tcp/$host/$((port + i))") 2>/dev/null; then echo "port $((port + i)) on $host is in use" >&2; exit 1; fi
done

trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT   # a failed step leaves nothing running either
"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py collectstatic --noinput --verbosity 0   # whitenoise serves them from STATIC_ROOT

# Gossip and mingle exchange worker state for monitoring tools the console does not use,
# and gossip fails on a Redis restart (AttributeError); the broker's own heartbeat stays.
for i in $(seq 1 "$workers"); do
    start "worker-$i" "$BIN/celery" -A console worker -l INFO -c "$concurrency" -n "worker$i@%h" --without-gossip --without-mingle
done
start beat "$BIN/celery" -A console beat -l INFO --schedule "$dir/celerybeat-schedule"
start watcher "$BIN/python" manage.py watch_clusters   # one per deployment
# After the workers: the demo (seed_demo) waits for them to provision its namespaces.
if [ $sandbox = 1 ]; then
    rm -f "$dir/sandbox.kubeconfig"
    start sandbox "$BIN/python" manage.py sandbox_cluster --demo --kubeconfig "$dir/sandbox.kubeconfig"
    for _ in $(seq 1 100); do [ -s "$dir/sandbox.kubeconfig" ] && break; sleep 0.1; done
    "$BIN/python" manage.py attach_cluster sandbox "$dir/sandbox.kubeconfig" --demo --description "sandbox cluster of run-production.sh"
fi
for i in $(seq 0 $((web - 1))); do
    start "web-$((i + 1))" "$BIN/daphne" -b "$host" -p $((first_web + i)) console.asgi:application
done
if [ $proxy = 1 ]; then
    # deploy/nginx.conf's settings, with this run's daphnes as the upstream servers; nginx
    # runs as this user with its files in the run folder.
    mkdir -p "$dir"/nginx/{body,proxy,fastcgi,uwsgi,scgi}
    [ "$(id -u)" = 0 ] && chown nobody "$dir"/nginx/{body,proxy,fastcgi,uwsgi,scgi}   # root's nginx works as nobody
    {
        echo "pid $dir/nginx/nginx.pid; error_log $dir/logs/proxy.log warn; events {}"
        echo "http {"
        echo "  access_log off; client_body_temp_path $dir/nginx/body; proxy_temp_path $dir/nginx/proxy;"
        echo "  fastcgi_temp_path $dir/nginx/fastcgi; uwsgi_temp_path $dir/nginx/uwsgi; scgi_temp_path $dir/nginx/scgi;"
        echo "  upstream console {"
        for i in $(seq 0 $((web - 1))); do echo "    server $host:$((first_web + i));"; done
        echo "    keepalive 32;"
        echo "  }"
        sed -n '/^    map /,/^    }$/p' deploy/nginx.conf
        sed -n '/^    server {/,/^    }$/p' deploy/nginx.conf | sed "s/listen 8000;/listen $host:$port;/"
        echo "}"
    } > "$dir/nginx/nginx.conf"
    start proxy nginx -p "$dir/nginx" -e "$dir/logs/proxy.log" -c "$dir/nginx/nginx.conf" -g "daemon off;"
fi

for i in $(seq 0 $((web - 1))); do
    url="http://$host:$((first_web + i))/login/"
    for _ in $(seq 1 300); do curl -fs -o /dev/null "$url" && break; sleep 0.2; done   # a minute: a busy machine starts slowly
    curl -fs -o /dev/null "$url" || { echo "web-$((i + 1)) did not answer: see $dir/logs/web-$((i + 1)).log" >&2; stop_all; exit 1; }
done
if [ $proxy = 1 ]; then
    for _ in $(seq 1 50); do curl -fs -o /dev/null "http://$host:$port/login/" && break; sleep 0.2; done
    curl -fs -o /dev/null "http://$host:$port/login/" || { echo "the proxy did not answer: see $dir/logs/proxy.log" >&2; stop_all; exit 1; }
    echo "console at http://$host:$port/ (nginx, in front of the web processes at http://$host:$first_web/ ... http://$host:$((first_web + web - 1))/)"
else
    echo "console at http://$host:$port/ ... http://$host:$((port + web - 1))/ (put a load balancer in front of them; nginx is not installed)"
fi
echo "logs in $dir/logs; Ctrl-C or scripts/run-production.sh stop --dir $dir stops everything"
# Wait until told to stop; a process that dies is reported, the others go on.
while [ -f "$pids" ]; do
    while read -r pid name; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name (pid $pid) exited: see $dir/logs/$name.log" >&2
            sed -i "/^$pid /d" "$pids"
        fi
    done < <(cat "$pids" 2>/dev/null)
    sleep 1 &
    wait $! || true
done
