"""One settings module, read from the environment.

No variable set means the embedded default: SQLite, a Redis server started from Python on
a unix socket, MLflow on a local SQLite file, emails written to files. Production sets
``DEBUG=false`` and must then provide ``SECRET_KEY``; see ``.env.example``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from portal import embedded

BASE_DIR = embedded.BASE_DIR
VAR_DIR = embedded.var_dir()

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))

DEBUG = env.bool("DEBUG", default=True)
# With DEBUG on, show Django's technical 404 and 500 pages instead of the portal's designed ones.
DEBUG_TECHNICAL_ERRORS = env.bool("DEBUG_TECHNICAL_ERRORS", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off: generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` and export it."
        )
    SECRET_KEY = "embedded-development-key-not-for-production-use-0123456789abcdef"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# PORTAL_PORT and MLFLOW_PORT are the ports `./dev run` binds; the URLs default to them.
PORTAL_URL = env.str("PORTAL_URL", default=f"http://127.0.0.1:{env.int('PORTAL_PORT', default=8000)}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "axes",
    "portal",
    "proposals",
    "registry",
    "serving",
    "observability",
    "workers",
]

MIDDLEWARE = [
    "portal.middleware.DesignedErrorPagesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a sign-in refused for too many failures into the login page that says so.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "portal.context_processors.navigation",
                "portal.context_processors.notifications",
            ],
        },
    }
]

# --- database ---------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
# The demo people have public passwords: ``seed_demo`` loads them into a database named by
# DATABASE_URL (shared, perhaps production) only with this on or ``--allow-shared-database``.
PORTAL_DEMO = env.bool("PORTAL_DEMO", default=False)
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "portal.sqlite3",
            # WAL lets the web, worker and beat processes read while one writes; IMMEDIATE
            # transactions take the write lock up front so concurrent writers queue on the
            # busy timeout instead of failing with "database is locked" mid-transaction.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            "TEST": {"NAME": str(VAR_DIR / "test-portal.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, cache, celery ---------------------------------------------------------------
EMBEDDED_REDIS = not env.str("REDIS_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="") or embedded.embedded_redis_url(db=0)
EMBEDDED_REDIS_SOCKET = str(embedded.redis_socket_path()) if EMBEDDED_REDIS else ""


def _redis_db(url: str) -> int:
    """The logical database ``url`` names: ``?db=N`` or, for TCP URLs, the path ``/N``."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if query.get("db", "").isdigit():
        return int(query["db"])
    path = parts.path.strip("/")
    return int(path) if parts.scheme != "unix" and path.isdigit() else 0


def _redis_db_url(url: str, db: int) -> str:
    """The same server as ``url`` on logical database ``db``, its other options (TLS...) kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
    if parts.scheme == "unix":
        return f"unix://{parts.path}?{urlencode([*query, ('db', str(db))])}"
    return urlunsplit(parts._replace(path=f"/{db}", query=urlencode(query)))


def _broker_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"redis+socket://{parts.path}?virtual_host={_redis_db(url)}"
    return _redis_db_url(url, _redis_db(url))


_redis_base_db = _redis_db(REDIS_URL)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db_url(REDIS_URL, _redis_base_db),
        "KEY_PREFIX": "portal",
        "TIMEOUT": 300,
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or _broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60 + 120)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_QUEUES = ("default", "training", "deploy", "monitoring")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "jobs-reap-stale": {
        "task": "workers.jobs_reap_stale",
        "schedule": 30.0,
        "options": {"queue": "default", "expires": 25},
    },
}

# Jobs: a running job's worker writes a heartbeat; one silent for longer than the timeout
# is taken for dead and marked failed.
JOB_HEARTBEAT_SECONDS = env.float("JOB_HEARTBEAT_SECONDS", default=5.0)
JOB_HEARTBEAT_TIMEOUT_SECONDS = env.float("JOB_HEARTBEAT_TIMEOUT_SECONDS", default=60.0)
JOB_CANCEL_GRACE_SECONDS = env.float("JOB_CANCEL_GRACE_SECONDS", default=30.0)
# A schedule a person makes (retraining, a monitor) fires at most this often; the portal's own
# default schedules (the one-minute prediction drain) are exempt.
SCHEDULE_MIN_INTERVAL_MINUTES = env.int("SCHEDULE_MIN_INTERVAL_MINUTES", default=5)
# Jobs one person may start in an hour (training, deploys, monitor runs, ...); past it a start is
# refused (HTTP 429 from the API) until the oldest of them is an hour old.
JOBS_PER_PERSON_PER_HOUR = env.int("JOBS_PER_PERSON_PER_HOUR", default=60)

# --- governance --------------------------------------------------------------------------
# The weekly ML Review: weekday (0 = Monday) and local time; a beat task schedules the next one.
ML_REVIEW_WEEKDAY = env.int("ML_REVIEW_WEEKDAY", default=2)
ML_REVIEW_TIME = env.str("ML_REVIEW_TIME", default="15:00")
# Quorum: the share of council members who must be present (voting counts as present).
COUNCIL_QUORUM = env.float("COUNCIL_QUORUM", default=0.5)
# "present": a decision needs a majority of the members present; "votes_cast": of the
# approve/reject/request-changes votes cast (abstentions then don't count).
COUNCIL_MAJORITY = env.str("COUNCIL_MAJORITY", default="present")
CHAIR_TERM_MONTHS = env.int("CHAIR_TERM_MONTHS", default=12)
# Used to weigh build effort against impact in the principle checks.
COST_PER_PERSON_WEEK = env.int("COST_PER_PERSON_WEEK", default=4000)
# The currency of every amount of money in a proposal (impact, costs), shown beside those fields.
CURRENCY = env.str("CURRENCY", default="USD")
# Everyone on this list gets the minutes of every ML Review, beside the people involved.
MINUTES_MAILING_LIST = env.list("MINUTES_MAILING_LIST", default=[])
EMAIL_SEND_ATTEMPTS = env.int("EMAIL_SEND_ATTEMPTS", default=3)

# --- MLflow ----------------------------------------------------------------------------
MLFLOW_TRACKING_URI = env.str("MLFLOW_TRACKING_URI", default="") or embedded.embedded_mlflow_uri()
MLFLOW_ARTIFACT_ROOT = env.str("MLFLOW_ARTIFACT_ROOT", default="") or embedded.embedded_mlflow_artifacts().as_uri()
# Links to runs and models: an MLflow server serves its own UI; the embedded store is shown
# by the UI that `./dev run` starts on MLFLOW_PORT.
MLFLOW_UI_URL = env.str("MLFLOW_UI_URL", default="") or (
    MLFLOW_TRACKING_URI if MLFLOW_TRACKING_URI.startswith(("http://", "https://"))
    else f"http://127.0.0.1:{env.int('MLFLOW_PORT', default=5000)}"
)

# --- limits on what people write ------------------------------------------------------------
# Every free text a person submits (proposal fields, comments, notes, reasons, rationales) is
# at most this many characters; models keep it unbounded, forms, the API and services check it.
TEXT_MAX_CHARS = env.int("TEXT_MAX_CHARS", default=20_000)

# --- datasets ----------------------------------------------------------------------------
# Registered datasets are kept here under their content hash, and a file put here by hand can
# be registered by naming it. Past one machine this must be storage every web and worker
# process shares (a network volume).
DATASETS_FOLDER = Path(env.str("DATASETS_FOLDER", default="") or VAR_DIR / "datasets")
# The largest dataset file the portal accepts (upload or named file), in bytes.
DATASET_MAX_BYTES = env.int("DATASET_MAX_BYTES", default=200 * 1024 * 1024)
# Past these a file is refused before it is read whole: a Parquet file from its footer, a CSV
# file from its header and by reading one row past the limit.
DATASET_MAX_ROWS = env.int("DATASET_MAX_ROWS", default=10_000_000)
DATASET_MAX_COLUMNS = env.int("DATASET_MAX_COLUMNS", default=1000)
# A Parquet file's data once decompressed, in bytes (compression can hide a far larger table).
DATASET_MAX_UNCOMPRESSED_BYTES = env.int("DATASET_MAX_UNCOMPRESSED_BYTES", default=2 * 1024 * 1024 * 1024)
# A worker reads an uploaded file in a child process limited to this much memory (address
# space), in MB: a file that needs more fails its job, and the worker lives on.
DATASET_PARSE_MEMORY_MB = env.int("DATASET_PARSE_MEMORY_MB", default=2048)
# An upload whose Content-Length is past DATASET_MAX_BYTES is refused before its body is read.
# Below it, a file part larger than FILE_UPLOAD_MAX_MEMORY_SIZE streams to a temporary file
# instead of memory; every other request body (forms, JSON) is capped at DATA_UPLOAD_MAX_MEMORY_SIZE.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- training ------------------------------------------------------------------------------
# Checked when training is asked for, before any job starts: a dataset with more rows is
# refused, and so is an MLP deeper or with more parameters (computed from the hidden layers and
# the encoded features) than these.
TRAINING_MAX_ROWS = env.int("TRAINING_MAX_ROWS", default=5_000_000)
TRAINING_MAX_LAYERS = env.int("TRAINING_MAX_LAYERS", default=8)
TRAINING_MAX_PARAMETERS = env.int("TRAINING_MAX_PARAMETERS", default=5_000_000)
# The MLP's one-hot encoding keeps this many of a categorical feature's most frequent values;
# the rest share one "other" encoding (the training log says so).
TRAINING_MAX_CATEGORIES = env.int("TRAINING_MAX_CATEGORIES", default=200)

# --- deployments ---------------------------------------------------------------------------
# Where people and clients reach the serving tier (shown on endpoint pages and in curl examples).
SERVING_PORT = env.int("SERVING_PORT", default=8001)
SERVING_URL = env.str("SERVING_URL", default=f"http://127.0.0.1:{SERVING_PORT}").rstrip("/")
# How long a deploy job waits for every serving replica to report the new revision.
SERVING_DEPLOY_TIMEOUT_SECONDS = env.float("SERVING_DEPLOY_TIMEOUT_SECONDS", default=120.0)
SERVING_MAX_SHADOWS = env.int("SERVING_MAX_SHADOWS", default=3)
# Reference rows the deploy job scores through the serving runtime and through MLflow's pyfunc.
SERVING_VERIFY_ROWS = env.int("SERVING_VERIFY_ROWS", default=200)
# Logged predictions drained from Redis per batch.
PREDICTION_DRAIN_BATCH = env.int("PREDICTION_DRAIN_BATCH", default=2000)

# --- monitoring ----------------------------------------------------------------------------
# Logged predictions (and their labels and monitor runs) older than this are deleted every night.
PREDICTION_RETENTION_DAYS = env.int("PREDICTION_RETENTION_DAYS", default=90)
# A new deployment's default monitor: how often it runs and the window of traffic it reads.
MONITOR_DEFAULT_SCHEDULE = env.str("MONITOR_DEFAULT_SCHEDULE", default="*/15 * * * *")
MONITOR_DEFAULT_WINDOW_MINUTES = env.int("MONITOR_DEFAULT_WINDOW_MINUTES", default=60)
# Most predictions one monitor run reads (the newest of its window).
MONITOR_MAX_ROWS = env.int("MONITOR_MAX_ROWS", default=200_000)
# A project misses its promise when every run with labels in this many hours misses the target.
PROMISE_SUSTAINED_HOURS = env.int("PROMISE_SUSTAINED_HOURS", default=72)

# --- audit log ---------------------------------------------------------------------------
# The audit log is append-only, in the database too; ``manage.py flush`` erases it only where
# this is on (the test settings, whose database belongs to the test run).
AUDIT_LOG_FLUSHABLE = False

# --- auth ------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Paths that need no sign-in. Everything else redirects to the login page (HTML) or
# answers 401 (API).
PUBLIC_PATHS = ("/healthz", "/readyz", "/accounts/login/", "/accounts/oidc/")

# Sessions end after this many minutes without a request (each request starts the count again).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=480)
if SESSION_IDLE_MINUTES < 1:
    raise ImproperlyConfigured(f"SESSION_IDLE_MINUTES must be at least 1 (got {SESSION_IDLE_MINUTES}).")
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True

# Single sign-on with OpenID Connect (see README, "Single sign-on"). Off unless OIDC_CLIENT_ID is
# set. OIDC_ISSUER is enough: the endpoints and signing keys come from its discovery document,
# fetched on the first sign-in; an endpoint set explicitly wins over the discovered one.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_AUTHORIZATION_ENDPOINT = env.str("OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_TOKEN_ENDPOINT = env.str("OIDC_TOKEN_ENDPOINT", default="")
OIDC_USERINFO_ENDPOINT = env.str("OIDC_USERINFO_ENDPOINT", default="")
OIDC_JWKS_URI = env.str("OIDC_JWKS_URI", default="")
OIDC_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
OIDC_SCOPES = env.str("OIDC_SCOPES", default="openid email profile")
OIDC_USERNAME_CLAIM = env.str("OIDC_USERNAME_CLAIM", default="preferred_username")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
# An unknown person is refused unless this is on; then a portal account is made for them.
OIDC_CREATE_USERS = env.bool("OIDC_CREATE_USERS", default=False)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10.0)
# Council membership and pod leads kept in step with the provider's groups at each sign-in
# (README, "Single sign-on"); off while OIDC_GROUPS_CLAIM is unset.
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="")
OIDC_COUNCIL_GROUP = env.str("OIDC_COUNCIL_GROUP", default="ml-council")
OIDC_POD_LEAD_GROUP_PREFIX = env.str("OIDC_POD_LEAD_GROUP_PREFIX", default="pod-lead:")
OIDC_ENABLED = bool(OIDC_CLIENT_ID)
if OIDC_ENABLED:
    _explicit = (OIDC_AUTHORIZATION_ENDPOINT, OIDC_TOKEN_ENDPOINT, OIDC_USERINFO_ENDPOINT, OIDC_JWKS_URI)
    if not OIDC_ISSUER and not all(_explicit):
        raise ImproperlyConfigured(
            "OIDC_CLIENT_ID is set: set OIDC_ISSUER too (or all of OIDC_AUTHORIZATION_ENDPOINT, "
            "OIDC_TOKEN_ENDPOINT, OIDC_USERINFO_ENDPOINT and OIDC_JWKS_URI)."
        )
    if not OIDC_CLIENT_SECRET:
        raise ImproperlyConfigured("OIDC_CLIENT_ID is set but OIDC_CLIENT_SECRET is not: the provider gives both.")
elif OIDC_ISSUER:
    raise ImproperlyConfigured("OIDC_ISSUER is set but OIDC_CLIENT_ID is not: register the portal with the provider.")
# What mozilla-django-oidc reads itself (the request and callback views).
OIDC_USE_PKCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_callback"

# Password sign-in: on for the embedded demo; PASSWORD_LOGIN=false leaves it to superusers
# (break-glass administrators) once everyone else signs in through single sign-on.
PASSWORD_LOGIN = env.bool("PASSWORD_LOGIN", default=True)
AUTHENTICATION_BACKENDS = [
    # First: refuses any sign-in while its username and address are locked out.
    "portal.auth.ThrottleBackend",
    "django.contrib.auth.backends.ModelBackend" if PASSWORD_LOGIN else "portal.auth.SuperuserPasswordBackend",
    *(["portal.oidc.OIDCBackend"] if OIDC_ENABLED else []),
]

# Failed sign-ins (django-axes): this many for one username from one address lock that pair
# out for LOGIN_LOCKOUT_MINUTES; a successful sign-in clears the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.views.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "portal.auth.client_address"
AXES_WHITELIST_CALLABLE = "portal.auth.throttle_exempt"
AXES_VERBOSE = False

# --- email -----------------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ML Council Portal <ml-council@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- i18n, static ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "portal.staticfinders.VendorFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = VAR_DIR / "media"

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes an anonymous call a 401, not a 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ML Council Portal API",
    "DESCRIPTION": "Proposals, ML Council reviews, projects, models, deployments, monitoring and jobs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema maps every endpoint of an internal system: signed-in people and tokens only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Several models have a `state` and two inputs a `decision`: each choice set gets its own name
    # in the schema instead of a generated hash.
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "workers.models.JobState",
        "ProposalStateEnum": "proposals.models.ProposalState",
        "MeetingStateEnum": "proposals.models.MeetingState",
        "NotificationStateEnum": "portal.models.NotificationState",
        "ReviewDecisionEnum": "proposals.models.ReviewDecision",
        "ChairDecisionEnum": ["approve", "reject"],
        "EndpointStateEnum": "serving.models.EndpointState",
        "RevisionStateEnum": "serving.models.RevisionState",
        "OnlineTierEnum": "serving.models.OnlineTier",
        "RevisionActionEnum": "serving.models.RevisionAction",
        "ProjectStateEnum": "registry.models.ProjectState",
        "AliasMoveStateEnum": "registry.models.AliasMoveState",
        "NotificationKindEnum": "portal.models.NotificationKind",
        "KindEnum": "proposals.models.ProposalKind",  # its name before notifications had a kind too
    },
    # Row ids in paths (`<id:...>`, portal.converters) are integers.
    "PATH_CONVERTER_OVERRIDES": {"id": int},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema_refusals_everywhere",
    ],
    # Served from our own static files: internal networks often cannot reach a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- production hardening --------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Lets the domain be submitted to the browsers' built-in HTTPS-only list (as cookiecutter-django
    # does); set it false where some host under the domain must still answer plain HTTP.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

# Django's error pages and error emails mask the passwords inside URL settings (DATABASE_URL...) too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.redact.ExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Sign-ins are in the audit log; django-axes would log each one again.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- serving ---------------------------------------------------------------------------
# The prediction server (`python -m serving.runtime`); see serving/runtime/__init__.py.
SERVING_HOST = env.str("SERVING_HOST", default="127.0.0.1")
# Its own logical database (the prediction log stream, replica status, change notices), so
# clearing the cache or purging a queue never touches them.
SERVING_REDIS_URL = env.str("SERVING_REDIS_URL", default="") or _redis_db_url(REDIS_URL, _redis_base_db + 2)
# The feature store's Redis tier: its own logical database (or server, or cluster), never the
# cache's or the broker's, so clearing either never deletes features.
FEATURE_STORE_REDIS_URL = (env.str("FEATURE_STORE_REDIS_URL", default="")
                           or _redis_db_url(REDIS_URL, _redis_base_db + 3))
# How long a move job waits for every serving replica to read a view from its new tier before it
# deletes the old copy.
FEATURE_MOVE_SWITCH_SECONDS = env.float("FEATURE_MOVE_SWITCH_SECONDS", default=30.0)
# Rows a materialization loads per batch (each batch one progress step).
FEATURE_MATERIALIZE_BATCH = env.int("FEATURE_MATERIALIZE_BATCH", default=5000)
# A zero-argument callable (dotted path) that returns what to serve.
SERVING_MANIFEST_SOURCE = env.str("SERVING_MANIFEST_SOURCE", default="serving.manifest.manifest_from_database")
SERVING_RECONCILE_SECONDS = env.float("SERVING_RECONCILE_SECONDS", default=5.0)
SERVING_LOG_PREDICTIONS = env.bool("SERVING_LOG_PREDICTIONS", default=True)
SERVING_LOG_MAXLEN = env.int("SERVING_LOG_MAXLEN", default=1_000_000)
SERVING_LOG_QUEUE = env.int("SERVING_LOG_QUEUE", default=10_000)
SERVING_SHADOW_QUEUE = env.int("SERVING_SHADOW_QUEUE", default=1_000)
SERVING_MAX_BATCH = env.int("SERVING_MAX_BATCH", default=1000)
SERVING_MAX_BODY_BYTES = env.int("SERVING_MAX_BODY_BYTES", default=10 * 1024 * 1024)
SERVING_TORCH_THREADS = env.int("SERVING_TORCH_THREADS", default=1)
SERVING_DEVICE = env.str("SERVING_DEVICE", default="cpu")
SERVING_CACHE_DIR = Path(env.str("SERVING_CACHE_DIR", default="") or VAR_DIR / "serving-cache")
