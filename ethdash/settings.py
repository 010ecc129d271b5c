"""ethdash settings, read once from the environment.

Every variable, its default and its meaning is listed in docs/configuration.md. Values are parsed
strictly: a typo fails at start-up instead of silently falling back to a default.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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
    "ethdash",
    "accounts",
    "rigs",
    "pools",
    "validators",
    "alerts",
    "demo",
]

MIDDLEWARE = [
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
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
# The farms a user belongs to (the live websocket joins their groups); named here because the
# core imports no app.
ETHDASH_FARM_IDS_FOR_USER = "accounts.scoping.farm_ids_for_user"

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
        "rest_framework.renderers.BrowsableAPIRenderer",
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
ETHDASH_OFFLINE_SWEEP_S = env_int("ETHDASH_OFFLINE_SWEEP_S", 10, minimum=1)
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

# Outbound HTTP policy (ethdash.outbound): CIDRs reachable besides public addresses.
ETHDASH_OUTBOUND_ALLOW = env_list(
    "ETHDASH_OUTBOUND_ALLOW", ["127.0.0.0/8", "::1/128"] if DEBUG else []
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
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
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
