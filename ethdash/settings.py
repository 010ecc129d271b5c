"""ethdash settings, read once from the environment.

Every variable, its default and its meaning is listed in docs/configuration.md. Values are parsed
strictly: a typo fails at start-up instead of silently falling back to a default.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ethdash.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, on/off)")


def env_int(name, default, *, minimum=None):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    return value


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name, default):
    """A request rate as DRF's throttles take it ("600/min"), or None for "off"."""
    raw = os.environ.get(name, default)
    value = raw.strip().lower()
    if value in ("off", "none", "0", ""):
        return None
    count, sep, period = value.partition("/")
    if not sep or not count.isdigit() or int(count) < 1 or period[:1] not in "smhd":
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a rate: write N/s, N/min, N/hour or N/day, or off"
        )
    return value


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATA_DIR = Path(os.environ.get("ETHDASH_DATA_DIR") or BASE_DIR / "data")
DATA_DIR.mkdir(parents=True, exist_ok=True)

REDIS_URL = os.environ.get("REDIS_URL", "")
# How long a cache call (and /readyz's broker check) waits for Redis: redis-py's default is no
# limit, so a hung Redis would hold every request that reads the cache.
ETHDASH_REDIS_TIMEOUT_MS = env_int("ETHDASH_REDIS_TIMEOUT_MS", 2000, minimum=1)
# Embedded mode: no Redis, so the channel layer lives in one process and the Celery worker and
# beat must run inside the web server's process for their pushes to reach the browsers.
EMBEDDED = not REDIS_URL
ETHDASH_INPROCESS_WORKER = env_bool("ETHDASH_INPROCESS_WORKER", EMBEDDED)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_filters",
    "axes",
    "ethdash",
    "accounts",
    "rigs",
    "pools",
    "validators",
    "alerts",
    "demo",
]

MIDDLEWARE = [
    # First, so every later line of a request carries its id, and the counts see every answer.
    "ethdash.logs.RequestIdMiddleware",
    "ethdash.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside every other middleware, so it also sees the errors they answer.
    "ethdash.middleware.JsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before anything reads a body (the CSRF check reads a form's).
    "ethdash.middleware.BodySizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ethdash.urls"
WSGI_APPLICATION = "ethdash.wsgi.application"
ASGI_APPLICATION = "ethdash.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.managed_farms",
                "alerts.context_processors.open_alert_count",
                "ethdash.context_processors.ops_health",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'ethdash.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and immediate transactions make concurrent writers (web requests and the in-process
    # worker) queue for the lock instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not shared-cache memory, so a test server thread and the tests see the same data.
    # Per process, so two test runs on one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_timeout": ETHDASH_REDIS_TIMEOUT_MS / 1000,
                "socket_connect_timeout": ETHDASH_REDIS_TIMEOUT_MS / 1000,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # channels-redis waits for a socket's next message in a blocking pop of 5 s;
                # redis-py's default socket timeout is 5 s too, so an idle socket's wait timed
                # out (redis.exceptions.TimeoutError) and the websocket dropped, losing what was
                # sent meanwhile. The read timeout stays above the pop's.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": "ethdash",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: a login is refused while its username is locked out from that address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
# The farms a user belongs to (the live websocket joins their groups), and those of a request
# (a token's one farm, or the user's: /metrics); named here because the core imports no app.
ETHDASH_FARM_IDS_FOR_USER = "accounts.scoping.farm_ids_for_user"
ETHDASH_FARM_IDS_FOR_REQUEST = "accounts.scoping.farm_ids_for_request"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# plotly.js ships inside the plotly wheel; nothing is loaded from a CDN.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "ethdash.staticfiles.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or not env_bool("ETHDASH_MANIFEST_STATIC", True)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or not env_bool("ETHDASH_MANIFEST_STATIC", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.FarmScopePermission"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "ethdash.schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "ethdash.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "ethdash.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "ethdash.api_docs.BrowsableAPIRenderer",
        # After JSON, which stays the default: ?format=csv or Accept: text/csv (docs/api.md#csv).
        "ethdash.renderers.CSVRenderer",
    ],
    # ethdash.throttling: per token or user, and per client address for anonymous requests;
    # the rates are the ETHDASH_THROTTLE_* settings below, read when a request is judged.
    "DEFAULT_THROTTLE_CLASSES": [
        "ethdash.throttling.ApiRateThrottle",
        "ethdash.throttling.AnonRateThrottle",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ethdash API",
    "DESCRIPTION": "Rigs, GPUs, pool accounts and validators of the farms a token or user can see.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation may answer 429 with Retry-After (ethdash.throttling).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ethdash.api_docs.document_throttling",
    ],
    # Bodies are documented as JSON only: the form parsers stay for the browsable API's forms,
    # but a form cannot carry the nested lists and nulls the API's bodies have.
    "PARSER_WHITELIST": ["ethdash.parsers.JSONParser"],
    # A rig's status is read by several serializers (a rig, a rig just saved) beside other
    # "status" fields: named here, or drf-spectacular falls back to a hashed name.
    "ENUM_NAME_OVERRIDES": {
        "RigStatusEnum": "rigs.models.Rig.Status",
        # Two models have a "kind" with choices: each enum named after its model.
        "GpuKindEnum": "rigs.models.Gpu.Kind",
        "NotificationChannelKindEnum": "alerts.models.NotificationChannel.Kind",
    },
}

# Celery: the same tasks and schedule in both modes. Embedded mode uses the in-memory broker and
# runs worker and beat as threads of the web server (ethdash.embedded).
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# acks_late: a task is acknowledged when it ends, so a worker killed mid-run leaves it unacked.
# On Redis an unacked task comes back after the visibility timeout (Celery's default: one hour);
# here 10 minutes, above the longest countdown we schedule (alert delivery retries are capped
# under it, alerts.tasks) and above the longest task's run, so a task is never delivered twice
# while it still runs. A worker process that dies mid-task (prefork child killed) requeues it
# at once instead of acknowledging it; every task stores on natural keys, so a rerun is safe.
ETHDASH_CELERY_VISIBILITY_TIMEOUT_S = env_int(
    "ETHDASH_CELERY_VISIBILITY_TIMEOUT_S", 600, minimum=60
)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": ETHDASH_CELERY_VISIBILITY_TIMEOUT_S}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Health (docs/deploy.md): beat sends ethdash.tasks.heartbeat every ETHDASH_HEARTBEAT_S; /readyz
# fails when beat has sent none for ETHDASH_BEAT_SILENT_S, or no worker ran one for
# ETHDASH_WORKER_SILENT_S, or a listener the apps need (manage.py listen) for
# ETHDASH_LISTENER_SILENT_S.
ETHDASH_HEARTBEAT_S = env_int("ETHDASH_HEARTBEAT_S", 10, minimum=1)
ETHDASH_BEAT_SILENT_S = env_int("ETHDASH_BEAT_SILENT_S", 60, minimum=1)
ETHDASH_WORKER_SILENT_S = env_int("ETHDASH_WORKER_SILENT_S", 60, minimum=1)
ETHDASH_LISTENER_SILENT_S = env_int("ETHDASH_LISTENER_SILENT_S", 90, minimum=1)
# The live push (ethdash.live) queues pushes for a per-process sender thread, so a request never
# waits for the channel layer. The sender waits at most ETHDASH_LIVE_PUSH_TIMEOUT_MS per send,
# and after a failed send pauses ETHDASH_LIVE_PUSH_BACKOFF_S; at most ETHDASH_LIVE_PUSH_QUEUE
# pushes wait (then the oldest are dropped). ETHDASH_LIVE_PUSH_SYNC sends in the caller's thread
# (the tests, which read the events at once).
ETHDASH_LIVE_PUSH_TIMEOUT_MS = env_int("ETHDASH_LIVE_PUSH_TIMEOUT_MS", 500, minimum=1)
ETHDASH_LIVE_PUSH_BACKOFF_S = env_int("ETHDASH_LIVE_PUSH_BACKOFF_S", 5, minimum=0)
ETHDASH_LIVE_PUSH_QUEUE = env_int("ETHDASH_LIVE_PUSH_QUEUE", 10000, minimum=1)
ETHDASH_LIVE_PUSH_SYNC = env_bool("ETHDASH_LIVE_PUSH_SYNC", False)
ETHDASH_OFFLINE_SWEEP_S = env_int("ETHDASH_OFFLINE_SWEEP_S", 10, minimum=1)
# How much lower a Celery worker's CPU priority is than the web processes' (os.nice, 0 to 19).
ETHDASH_WORKER_NICE = env_int("ETHDASH_WORKER_NICE", 10, minimum=0)
# The web process's GIL switch interval in µs (ethdash/wsgi.py), 0 for Python's own (5,000).
ETHDASH_GIL_SWITCH_US = env_int("ETHDASH_GIL_SWITCH_US", 1000, minimum=0)
ETHDASH_POLL_TICK_S = env_int("ETHDASH_POLL_TICK_S", 5, minimum=1)
# How often the long-running listeners look for pools and beacon nodes added, changed or removed.
ETHDASH_LISTENER_RESCAN_S = env_int("ETHDASH_LISTENER_RESCAN_S", 30, minimum=1)
ETHDASH_POOL_GAP_PCT = env_int("ETHDASH_POOL_GAP_PCT", 85, minimum=1)
# Validators (docs/validators.md): ids per POST, how far back a farm is caught up after downtime,
# how many epochs one task run processes, and how long imperfect-epoch rows are kept.
# A paste of 100,000 validator pubkeys is about 10 MB (Django's default limit is 2.5 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
ETHDASH_BEACON_TIMEOUT_S = env_int("ETHDASH_BEACON_TIMEOUT_S", 10, minimum=1)
ETHDASH_EXECUTION_TIMEOUT_S = env_int("ETHDASH_EXECUTION_TIMEOUT_S", 10, minimum=1)
ETHDASH_BEACON_BATCH_SIZE = env_int("ETHDASH_BEACON_BATCH_SIZE", 1000, minimum=1)
ETHDASH_BEACON_BACKFILL_EPOCHS = env_int("ETHDASH_BEACON_BACKFILL_EPOCHS", 225, minimum=1)
ETHDASH_BEACON_EPOCHS_PER_RUN = env_int("ETHDASH_BEACON_EPOCHS_PER_RUN", 8, minimum=1)
ETHDASH_BEACON_TICK_S = env_int("ETHDASH_BEACON_TICK_S", 6, minimum=1)
ETHDASH_VALIDATOR_EPOCH_RETENTION_DAYS = env_int(
    "ETHDASH_VALIDATOR_EPOCH_RETENTION_DAYS", 90, minimum=1
)
# Alerts: the changes of one burst within this many seconds go out together, as one digest
# when there are at least ETHDASH_ALERT_DIGEST_MIN of them; the "nothing arrived" kinds are
# swept this often; a channel failing this many times in a row is marked failing.
ETHDASH_ALERT_DIGEST_WINDOW_S = env_int("ETHDASH_ALERT_DIGEST_WINDOW_S", 5, minimum=0)
ETHDASH_ALERT_DIGEST_MIN = env_int("ETHDASH_ALERT_DIGEST_MIN", 3, minimum=2)
ETHDASH_ALERT_SWEEP_S = env_int("ETHDASH_ALERT_SWEEP_S", 15, minimum=1)
# What the stores of this many seconds touched is evaluated together, once per farm and topic
# (alerts.services.coalesce): a push then costs its ids added to a set, not an evaluation. 0:
# each store is evaluated at once after its commit.
ETHDASH_ALERT_BATCH_S = env_int("ETHDASH_ALERT_BATCH_S", 10, minimum=0)
ETHDASH_ALERT_CHANNEL_MAX_FAILURES = env_int("ETHDASH_ALERT_CHANNEL_MAX_FAILURES", 5, minimum=1)
# E-mail (alert channels of kind "email"): Django's mail settings from the environment. Without an
# EMAIL_HOST, DEBUG prints mails on the console instead of trying an SMTP server on localhost.
# A bounded timeout, because Django's SMTP backend has none and a dead server would hold a worker.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ethdash <alerts@localhost>")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and "EMAIL_HOST" not in os.environ
    else "django.core.mail.backends.smtp.EmailBackend"
)
CELERY_BEAT_SCHEDULE = {
    "ethdash.heartbeat": {
        "task": "ethdash.tasks.heartbeat",
        "schedule": float(ETHDASH_HEARTBEAT_S),
        "options": {"expires": float(ETHDASH_HEARTBEAT_S)},
    },
    "validators.process": {
        "task": "validators.tasks.process_validators",
        "schedule": float(ETHDASH_BEACON_TICK_S),
        "options": {"expires": float(ETHDASH_BEACON_TICK_S)},
    },
    "validators.execution-rewards": {
        "task": "validators.tasks.execution_rewards",
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    "validators.purge-epochs": {
        "task": "validators.tasks.purge_validator_epochs",
        "schedule": 86400.0,
    },
    "alerts.sweep": {
        "task": "alerts.tasks.sweep_alerts",
        "schedule": float(ETHDASH_ALERT_SWEEP_S),
        "options": {"expires": float(ETHDASH_ALERT_SWEEP_S)},
    },
    "pools.reconcile": {"task": "pools.tasks.reconcile_accounts", "schedule": 300.0},
    "pools.verify-payouts": {"task": "pools.tasks.verify_payouts", "schedule": 60.0},
    "pools.poll-due": {
        "task": "pools.tasks.poll_due_accounts",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "rigs.rollups": {
        "task": "rigs.tasks.update_rollups",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "rigs.hashrate-medians": {"task": "rigs.tasks.refresh_hashrate_medians", "schedule": 900.0},
    "rigs.purge-expired": {"task": "rigs.tasks.purge_expired_samples", "schedule": 86400.0},
    "rigs.poll-due": {
        "task": "rigs.tasks.poll_due_rigs",
        "schedule": float(ETHDASH_POLL_TICK_S),
        "options": {"expires": float(ETHDASH_POLL_TICK_S)},
    },
    "rigs.mark-offline": {
        "task": "rigs.tasks.mark_offline_rigs",
        "schedule": float(ETHDASH_OFFLINE_SWEEP_S),
        # A sweep older than its own interval is pointless: the next one is already due.
        "options": {"expires": float(ETHDASH_OFFLINE_SWEEP_S)},
    },
}

# The largest body the API and the Hive OS agent's endpoint take (413 beyond, nothing read);
# 4 MiB holds a full telemetry batch of 5,000 samples, even indented. Validators added by
# pubkey take up to DATA_UPLOAD_MAX_MEMORY_SIZE (their view says so).
ETHDASH_API_MAX_BODY_BYTES = env_int("ETHDASH_API_MAX_BODY_BYTES", 4 * 1024 * 1024, minimum=1024)
# Under /api/ and /worker/, a CSRF failure answers JSON like every other error there.
CSRF_FAILURE_VIEW = "ethdash.views.csrf_failure"

# Telemetry ingest limits (docs/api.md).
ETHDASH_MAX_BATCH_SAMPLES = 5000
ETHDASH_MAX_FUTURE_S = 300
ETHDASH_RAW_RETENTION_DAYS = env_int("ETHDASH_RAW_RETENTION_DAYS", 14, minimum=1)
ETHDASH_OFFLINE_AFTER_CADENCES = 3
# A pool account reads stale when the pool has not answered for this many of its poll intervals;
# a beacon node reads silent when nobody has checked it for ETHDASH_NODE_SILENT_S (epoch
# processing checks each node at most once a slot, on every beat tick).
ETHDASH_POOL_STALE_AFTER_POLLS = 3
ETHDASH_NODE_SILENT_S = env_int("ETHDASH_NODE_SILENT_S", 300, minimum=30)

# Outbound HTTP policy (ethdash.outbound): CIDRs reachable besides public addresses.
ETHDASH_OUTBOUND_ALLOW = env_list(
    "ETHDASH_OUTBOUND_ALLOW", ["127.0.0.0/8", "::1/128"] if DEBUG else []
)

# Logs (docs/configuration.md, "Logs and tracing"): JSON lines or plain text, each line with its
# request or task id and, where known, the farm and object (ethdash.logs).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = logging_config(
    log_format=LOG_FORMAT,
    level=LOG_LEVEL,
    loggers={
        "django.db.backends": {"level": "INFO"},
        # One line per task run is noise at a 10-second schedule; failures still show.
        "celery.app.trace": {"level": os.environ.get("CELERY_TRACE_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
        # One line per miner or pool request would drown everything else.
        "httpx": {"level": "WARNING"},
        "web3": {"level": "WARNING"},
        # Store and alert-evaluation times per stored batch (ethdash.registry.stored); off
        # unless asked, bench/alerts.py asks.
        "ethdash.timing": {"level": os.environ.get("ETHDASH_TIMING_LOG", "WARNING")},
        # One line per request (method, path, status, duration_ms): the servers log access too,
        # so off unless asked (ETHDASH_REQUEST_LOG=INFO).
        "ethdash.requests": {"level": os.environ.get("ETHDASH_REQUEST_LOG", "WARNING")},
        # uvicorn (the websocket server) logs its errors, an application's traceback among them,
        # through a handler of its own, with no time and never as JSON; through ours instead.
        # Its level, and its access log's, is LOG_LEVEL's like everything else's (dictConfig
        # resets a configured logger's children, so uvicorn's --log-level no longer applies).
        "uvicorn": {"handlers": ["console"], "propagate": False, "level": LOG_LEVEL},
    },
)

# OpenTelemetry tracing (ethdash.tracing): off, console (spans on stdout) or otlp
# (OTEL_EXPORTER_OTLP_ENDPOINT and the other standard OTEL_* variables).
ETHDASH_TRACING = os.environ.get("ETHDASH_TRACING", "off").strip().lower() or "off"
if ETHDASH_TRACING not in ("off", "console", "otlp"):
    raise ImproperlyConfigured(f"ETHDASH_TRACING={ETHDASH_TRACING!r} must be off, console or otlp")

# Prometheus (docs/metrics.md): /metrics answers a farm's `read` token; /metrics/process, the
# process's own series, answers a Bearer ETHDASH_METRICS_TOKEN or a client inside
# ETHDASH_METRICS_ALLOW (CIDRs; loopback only with DEBUG: behind a reverse proxy on the same host
# every request comes from loopback, so in production a token, or the proxy refusing the path).
ETHDASH_METRICS_TOKEN = os.environ.get("ETHDASH_METRICS_TOKEN", "")
ETHDASH_METRICS_ALLOW = env_list(
    "ETHDASH_METRICS_ALLOW", ["127.0.0.0/8", "::1/128"] if DEBUG else []
)
for _cidr in ETHDASH_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"ETHDASH_METRICS_ALLOW: {_cidr!r} is not a CIDR") from None

# -- throttling and login lockout (docs/api.md "Throttling", docs/configuration.md) -----------
# Every API request of one token or logged-in user; API requests without credentials per
# client address; telemetry pushes per token (or user) and rig (an agent pushing every 5 s
# sends 12 a minute); the Hive OS agent's /worker/api per rig id and address (stats every 10 s
# and a hello now and then).
ETHDASH_THROTTLE_API = env_rate("ETHDASH_THROTTLE_API", "600/min")
ETHDASH_THROTTLE_ANON = env_rate("ETHDASH_THROTTLE_ANON", "60/min")
ETHDASH_THROTTLE_TELEMETRY = env_rate("ETHDASH_THROTTLE_TELEMETRY", "60/min")
ETHDASH_THROTTLE_HIVE = env_rate("ETHDASH_THROTTLE_HIVE", "60/min")
# How many reverse proxies in front of ethdash append to X-Forwarded-For: the client address
# of throttles and lockouts is the one the outermost of them saw. 0: the connection's address.
ETHDASH_TRUSTED_PROXIES = env_int("ETHDASH_TRUSTED_PROXIES", 0, minimum=0)

# django-axes: after ETHDASH_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is locked out for ETHDASH_LOGIN_LOCKOUT_MINUTES (0: until an admin
# unlocks it, in the admin's "Access attempts"). A right password resets the count.
AXES_FAILURE_LIMIT = env_int("ETHDASH_LOGIN_FAILURE_LIMIT", 5, minimum=1)
_LOCKOUT_MINUTES = env_int("ETHDASH_LOGIN_LOCKOUT_MINUTES", 15, minimum=0)
AXES_COOLOFF_TIME = timedelta(minutes=_LOCKOUT_MINUTES) if _LOCKOUT_MINUTES else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "ethdash.throttling.client_ip_for_axes"
AXES_LOCKOUT_CALLABLE = "ethdash.lockout.locked_out"
AXES_VERBOSE = False

# -- HTTPS and security headers (docs/deploy.md "HTTPS") -------------------------------------
# Cookies are sent over HTTPS only unless DEBUG is on or the variable says otherwise (a LAN
# install over plain HTTP sets both to 0).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Probes of load balancers and orchestrators come over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The header a TLS-terminating proxy sets to say the client used HTTPS, as "Header-Name" (its
# value must then be "https"), e.g. X-Forwarded-Proto. Only behind a proxy that always sets
# or strips it: otherwise a client could claim HTTPS itself.
_PROXY_SSL_HEADER = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")

# Content Security Policy (django-csp): scripts, styles, fonts, images and connections from
# this site only, and no inline script or style; plotly.js is served from here
# (ethdash.staticfiles). Images may be data: URLs (plotly's mode bar). "'self'" covers
# ws(s):// of the same host. plotly.js writes its own rules into two <style> elements it adds
# (one empty, one with its mode bar's CSS): those two texts are allowed by their hashes, and
# tests/test_browser_csp.py names the new hash if an upgraded plotly.js writes other ones.
PLOTLY_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty <style>
    "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",  # plotly.js 3's mode bar rules
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", *PLOTLY_STYLE_HASHES],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# The OpenAPI schema (/api/schema/) and its Swagger UI (/api/docs/) need a login or a token
# unless this is on.
ETHDASH_API_DOCS_PUBLIC = env_bool("ETHDASH_API_DOCS_PUBLIC", False)
