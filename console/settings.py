"""Settings: typed environment variables with embedded defaults (12-factor).

Two modes:
- embedded (default): SQLite, in-memory Celery transport and channel layer,
  a generated SECRET_KEY persisted under the state directory. `make run`.
- production (CONSOLE_ENV=production): SECRET_KEY, DATABASE_URL, REDIS_URL and
  ALLOWED_HOSTS are required; the process refuses to start without them.
"""

import ipaddress
import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default).strip()


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name, default):
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name, default):
    raw = env_str(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name, default=()):
    raw = env_str(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else list(default)


CONSOLE_ENV = env_str("CONSOLE_ENV", "embedded")
if CONSOLE_ENV not in ("embedded", "production"):
    raise ImproperlyConfigured(f"CONSOLE_ENV must be 'embedded' or 'production', got {CONSOLE_ENV!r}")
PRODUCTION = CONSOLE_ENV == "production"

if PRODUCTION:
    missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS") if not env_str(name)]
    if missing:
        raise ImproperlyConfigured(
            "Production mode (CONSOLE_ENV=production) needs these environment variables: " + ", ".join(missing)
        )
    # Debug pages show settings and source to anybody; production never serves them.
    if env_bool("DEBUG", False):
        raise ImproperlyConfigured("DEBUG must be off in production mode (CONSOLE_ENV=production): unset DEBUG")
    # The websocket origin check compares Origin with ALLOWED_HOSTS: "*" would let any
    # site open a socket with the user's cookies.
    if "*" in env_list("ALLOWED_HOSTS"):
        raise ImproperlyConfigured("ALLOWED_HOSTS must name the console's hosts in production mode, not '*'")

# Where the embedded mode keeps its SQLite file, generated secret and kubeconfigs.
STATE_DIR = Path(env_str("CONSOLE_STATE_DIR", str(BASE_DIR / "var")))
# Signed checkpoints of the operation log's head, kept outside the database (console/oplog_anchor.py):
# every console process of one database appends to the same file (a shared volume in production).
OPLOG_ANCHOR_PATH = env_str("OPLOG_ANCHOR_PATH") or str(STATE_DIR / "oplog-anchor.jsonl")


def embedded_secret_key():
    """Generate the secret once and keep it (mode 0600), so sessions survive restarts.

    Written to a private temporary file, then linked into place: processes starting
    together (the embedded run and a manage.py command) never read a half-written key
    nor fail on each other's file; the first link wins and everybody reads that key."""
    path = STATE_DIR / "secret_key"
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=STATE_DIR, prefix=".secret_key.")  # created 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(50))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process was first
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it and a new secret key is generated")
    return key


SECRET_KEY = env_str("SECRET_KEY") or embedded_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "console.admin_site.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "console",
    "tenants",
    "workloads",
    "workloads.storage",
    "workloads.stacks",
    "workloads.pipelines",
    "monitoring",
    "monitoring.metrics",
    "monitoring.alerts",
    "monitoring.logs",
    "monitoring.topology",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "console.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.middleware.UserLanguageMiddleware",
    "console.middleware.PasswordChangeRequiredMiddleware",
    # Outside CSRF so that requests refused for CSRF are recorded too.
    "console.middleware.OperationLogMiddleware",
    "console.middleware.NulCharacterMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.shell",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# The connection budget of a web process: HTTP requests run on this many threads, each
# keeping one connection (console/request_threads.py), plus one thread for websockets.
# PostgreSQL must allow web processes x (DATABASE_POOL_SIZE + 1) + worker processes x
# concurrency + the watcher (1 + 1 per cluster) + a few for manage.py.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 8)
if DATABASE_POOL_SIZE < 1:
    raise ImproperlyConfigured(f"DATABASE_POOL_SIZE must be at least 1, got {DATABASE_POOL_SIZE}")
if env_str("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=60, conn_health_checks=True)}
else:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": STATE_DIR / "console.sqlite3",
            # The embedded worker and watcher write from other threads: wait for locks
            # instead of failing, and take the write lock up front to avoid upgrade deadlocks.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ----------------------------
REDIS_URL = env_str("REDIS_URL")
KEY_PREFIX = env_str("CONSOLE_KEY_PREFIX", "caas")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": KEY_PREFIX,
        }
    }
    # Live pushes fan out inside each web process from one Redis subscription per group
    # (console/fanout.py): Redis work grows with groups, not with open pages, and a process
    # holds at most LIVE_REDIS_MAX_CONNECTIONS connections for it. LIVE_SOCKET_BACKLOG:
    # messages a slow socket may have waiting before the oldest is dropped (counted).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "console.live.fanout.FanoutChannelLayer",
            "CONFIG": {
                "url": REDIS_URL,
                "prefix": f"{KEY_PREFIX}:asgi",
                "max_connections": env_int("LIVE_REDIS_MAX_CONNECTIONS", 4),
                "capacity": env_int("LIVE_SOCKET_BACKLOG", 100),
            },
        }
    }
    if env_str("LIVE_CHANNEL_LAYER") == "channels_redis":  # the former layer, kept for comparison benchmarks
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                # redis-py 8 reads with a 5 s socket timeout by default, the same as the layer's
                # blocking pop: idle websockets died every 5 s (channels_redis issue #422).
                "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": f"{KEY_PREFIX}:asgi"},
            }
        }
    CELERY_BROKER_URL = REDIS_URL
    # Redis hands an unacknowledged task to another worker after this long: longer than the
    # longest job (a tenant's deletion waits up to CAAS_NAMESPACE_DELETE_TIMEOUT per
    # namespace), so a slow job is not run twice; a killed worker's job is the reaper's.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("JOB_VISIBILITY_TIMEOUT_SECONDS", 3 * 3600)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"

# A live group gets at most one mirror tick per this many seconds (the last always comes):
# each tick costs every page on the group a table re-read.
LIVE_TICK_SECONDS = env_float("LIVE_TICK_SECONDS", 0.5)

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = KEY_PREFIX  # separate consoles (and test workers) sharing one Redis
CELERY_TASK_ACKS_LATE = True
# A pool child that dies mid-task gives its task back to the queue instead of acking it.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Redis restart: workers reconnect however long it takes (Celery gives up after 100
# tries by default), and sending a task (a job queued by a page, beat's schedule) waits
# up to about 15 s for Redis instead of failing after 0.6 s.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 10, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}
# ... and the tasks running meanwhile go on rather than being cancelled half-way: a job's
# message delivered again after the reconnect finds its job taken or ended (console.jobs.jobs.claim).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TIMEZONE = "UTC"
# Ceph work (volumes, snapshots, backups) runs on its own queue, "<default queue>.ceph", so that
# it can get workers of its own (`celery worker -Q <prefix>.ceph`); a worker started without -Q
# (make run, the tests' worker, docker-compose) consumes both queues.
CEPH_TASKS = ("workloads.storage.tasks.",)
CELERY_TASK_QUEUES = {KEY_PREFIX: {}, f"{KEY_PREFIX}.ceph": {}}


def _route_ceph(name, args, kwargs, options, task=None, **kw):
    """Named at publish time from the default queue (tests give each session its own)."""
    if name.startswith(CEPH_TASKS):
        from console.celery import app

        return {"queue": f"{app.conf.task_default_queue}.ceph"}
    return None


CELERY_TASK_ROUTES = (_route_ceph,)
CELERY_BEAT_SCHEDULE = {
    "refresh-clusters": {
        "task": "console.clusters.tasks.refresh_clusters",
        "schedule": env_int("CLUSTER_REFRESH_SECONDS", 60),
    },
    "verify-operation-log-nightly": {
        "task": "console.oplog.tasks.verify_operation_log_scheduled",
        "schedule": env_int("OPLOG_VERIFY_INTERVAL_SECONDS", 24 * 3600),
    },
    "reap-stale-jobs": {
        "task": "console.jobs.tasks.reap_stale_jobs",
        "schedule": env_int("JOB_REAP_INTERVAL_SECONDS", 60),
    },
    "deliver-due-notifications": {"task": "console.notifications.tasks.deliver_due", "schedule": 60.0},
}

# --- Notification channels (console/notifications/channels.py) and alerts ----------
# SMTP for email channels (Django's own names).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "caas-console@localhost")
# Webhooks go only to public addresses; networks listed here (CIDR, e.g. "10.20.0.0/16") are
# allowed too: the operator's choice, never a tenant's (no requests to the console's own services).
NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS = env_list("NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS")
NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS = env_float("NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS", 5.0)
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 8)
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 30)
ALERT_EVALUATION_SECONDS = env_int("ALERT_EVALUATION_SECONDS", 30)

# --- Metrics (monitoring/metrics) -------------------------------------------------
# How often Celery beat scrapes every cluster (metrics.k8s.io, health checks, kubelet
# volume stats, the mirror), and how often raw samples are rolled up into 1-minute/1-hour ones.
METRICS_SCRAPE_SECONDS = env_int("METRICS_SCRAPE_SECONDS", 30)
METRICS_DOWNSAMPLE_SECONDS = env_int("METRICS_DOWNSAMPLE_SECONDS", 60)
if METRICS_SCRAPE_SECONDS < 1:
    raise ImproperlyConfigured(f"METRICS_SCRAPE_SECONDS must be at least 1, got {METRICS_SCRAPE_SECONDS}")

# --- Jobs ------------------------------------------------------------------------
# A running job whose worker has not beaten for this long is taken as lost (its worker
# beats every quarter of it) and is re-queued or failed by the reaper.
JOB_HEARTBEAT_TIMEOUT_SECONDS = env_int("JOB_HEARTBEAT_TIMEOUT_SECONDS", 120)
# A job queued this long ago that no worker has started is sent again (or failed).
JOB_QUEUE_TIMEOUT_SECONDS = env_int("JOB_QUEUE_TIMEOUT_SECONDS", 900)

# --- Auth and security -------------------------------------------------------
AUTH_USER_MODEL = "console.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "console:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling (console/throttle.py), counted before the password is checked.
# Per username + address: 5 attempts, then one attempt per lock, the lock doubling from
# 1 minute up to 1 hour: a person who mistypes is hardly slowed, a guesser gets about 30
# guesses a day at one account from one address.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 60)
LOGIN_LOCKOUT_MAX_SECONDS = env_int("LOGIN_LOCKOUT_MAX_SECONDS", 3600)
# The wider counters run in windows of this length (and the pair's is kept this long past its last lock).
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 300)
# Per address, all usernames and successes included: 100 per window is far above what an
# office behind one proxy needs (sessions last hours, so people sign in rarely) and holds
# spraying one password over many usernames to 100 guesses per 5 minutes per address.
LOGIN_MAX_ATTEMPTS_PER_ADDRESS = env_int("LOGIN_MAX_ATTEMPTS_PER_ADDRESS", 100)
# Per username, all addresses, failures only: 20 per window leaves room for the owner's own
# typos besides others' attempts, and holds guessing from many addresses to under 6,000 a
# day, hopeless against passwords that pass the validators above. (Anybody can keep one
# account locked this way: the price of any per-account limit; the lock ends with the window.)
LOGIN_MAX_FAILURES_PER_USER = env_int("LOGIN_MAX_FAILURES_PER_USER", 20)

HTTPS = env_bool("CONSOLE_HTTPS", PRODUCTION)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # pages hand the token to htmx through hx-headers
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "console.views.errors.csrf_failure"
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Served over TLS: browsers keep to HTTPS for a year (SECURE_HSTS_SECONDS=0 turns it off).
    # Not for subdomains: they may be other services.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)

# Trust X-Forwarded-For only behind a known proxy (set by the operator).
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)

# Networks where registered clusters' API servers may be (CIDRs, comma-separated, e.g.
# "10.0.0.0/8,192.168.0.0/16"). Empty (the default): any address. Checked on the address
# each connection dials. Link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
# fd00:ec2::254) are refused always. Cluster calls never use HTTP(S)_PROXY.
CLUSTER_API_ALLOWED_NETWORKS = env_list("CLUSTER_API_ALLOWED_NETWORKS")
for _network in CLUSTER_API_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"CLUSTER_API_ALLOWED_NETWORKS: {_network!r} is not a network like 10.0.0.0/8"
        ) from None

# --- I18n ----------------------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None  # collectstatic runs in the image build
WHITENOISE_USE_FINDERS = not PRODUCTION  # embedded mode serves straight from static/

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "permission_denied_one_line": {"()": "console.logfilters.PermissionDeniedOneLine"},
        # A PostgreSQL or Redis restart: one warning when it goes, one when it is back, no tracebacks.
        "outages": {"()": "console.outages.OutageLogFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["outages"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "django.request": {"filters": ["permission_denied_one_line"]},  # a 403 is one line, not a traceback
        # One line per operation-log entry: for an external sink an operator attaches (OPLOG_ANCHOR_LOG_LEVEL=INFO),
        # not for the terminal of every process.
        "console.oplog.anchor": {"level": env_str("OPLOG_ANCHOR_LOG_LEVEL", "WARNING")},
    },
}

# --- Tenants -------------------------------------------------------------------
# Namespace of the ingress controller: tenant namespaces accept traffic from it.
CAAS_INGRESS_NAMESPACE = env_str("CAAS_INGRESS_NAMESPACE", "ingress-nginx")
# How long deleting a namespace may take before the job reports it stuck.
CAAS_NAMESPACE_DELETE_TIMEOUT = env_int("CAAS_NAMESPACE_DELETE_TIMEOUT", 300)

# --- Workloads -----------------------------------------------------------------
# How long a rollout may go without progress before its job fails.
CAAS_ROLLOUT_TIMEOUT = env_int("CAAS_ROLLOUT_TIMEOUT", 300)
# Pipelines (workloads/pipelines): a stage's Kubernetes Job is stopped after this long (activeDeadlineSeconds).
PIPELINE_STAGE_DEADLINE_SECONDS = env_int("PIPELINE_STAGE_DEADLINE_SECONDS", 3600)
# Web terminals: idle cut-off, hard cap, sessions per user.
CAAS_TERMINAL_IDLE_SECONDS = env_float("CAAS_TERMINAL_IDLE_SECONDS", 15 * 60)
CAAS_TERMINAL_MAX_SECONDS = env_float("CAAS_TERMINAL_MAX_SECONDS", 4 * 3600)
CAAS_TERMINAL_MAX_PER_USER = env_int("CAAS_TERMINAL_MAX_PER_USER", 3)
# Live pod logs: idle cut-off, hard cap, lines pushed per second to one page.
CAAS_POD_LOG_IDLE_SECONDS = env_float("CAAS_POD_LOG_IDLE_SECONDS", 30)
CAAS_POD_LOG_MAX_SECONDS = env_float("CAAS_POD_LOG_MAX_SECONDS", 30 * 60)
CAAS_POD_LOG_LINES_PER_SECOND = env_float("CAAS_POD_LOG_LINES_PER_SECOND", 200)

# --- Ceph ------------------------------------------------------------------------
# The cluster behind volumes and backups (console/ceph/). Without CEPH_CONF and CEPH_KEYRING
# Ceph is not configured: the console runs and says how to enable it. For development,
# scripts/ceph-dev.sh start starts a throwaway one and scripts/ceph-dev.sh env prints these.
CEPH_CONF = env_str("CEPH_CONF")
CEPH_KEYRING = env_str("CEPH_KEYRING")
CEPH_CLIENT = env_str("CEPH_CLIENT", "client.caas")
CEPH_POOL = env_str("CEPH_POOL", "rbd")  # volume images
CEPH_BACKUP_POOL = env_str("CEPH_BACKUP_POOL", "caas-backups")  # backup artefacts
# Seconds for connecting and for each monitor or OSD operation (a backup is many operations).
CEPH_TIMEOUT = env_int("CEPH_TIMEOUT", 10)

# --- Logs (monitoring/logs) ------------------------------------------------------
# Days of lines kept (whole daily partitions are dropped after that) and days of partitions made ahead.
LOGS_RETENTION_DAYS = env_int("LOGS_RETENTION_DAYS", 7)
LOGS_PARTITIONS_AHEAD = env_int("LOGS_PARTITIONS_AHEAD", 2)
# Ingest limits: a request body as sent (compressed), the same body decompressed, one line's message.
LOGS_INGEST_MAX_BODY_BYTES = env_int("LOGS_INGEST_MAX_BODY_BYTES", 8 * 1024 * 1024)
LOGS_INGEST_MAX_DECOMPRESSED_BYTES = env_int("LOGS_INGEST_MAX_DECOMPRESSED_BYTES", 64 * 1024 * 1024)
LOGS_MAX_LINE_BYTES = env_int("LOGS_MAX_LINE_BYTES", 64 * 1024)
# Batches written at once per web process, and how long a write may take before the endpoint
# answers 429 with Retry-After (the collector keeps the batch in its buffer and retries).
LOGS_INGEST_CONCURRENCY = env_int("LOGS_INGEST_CONCURRENCY", 4)
LOGS_INGEST_DB_TIMEOUT_SECONDS = env_float("LOGS_INGEST_DB_TIMEOUT_SECONDS", 5)
LOGS_INGEST_RETRY_AFTER_SECONDS = env_int("LOGS_INGEST_RETRY_AFTER_SECONDS", 5)
# Where lines are kept: "postgres" (this database, partitioned) or "clickhouse" (its HTTP interface).
LOGS_STORE = env_str("LOGS_STORE", "postgres")
LOGS_CLICKHOUSE_URL = env_str("LOGS_CLICKHOUSE_URL", "http://127.0.0.1:8123/")
LOGS_CLICKHOUSE_TABLE = env_str("LOGS_CLICKHOUSE_TABLE", "logs_line")
