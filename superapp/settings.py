"""Settings for the municipal super-app platform, read from the environment (12-factor).

Local defaults point at PostgreSQL and Redis on 127.0.0.1 so that `manage.py` works on a developer
machine; `make demo` / `make test` set DATABASE_URL / REDIS_URL (embedded servers when none run).
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key-change-me-in-production-0123456789")

# The platform's own host name: municipalities live on `<label>.<PLATFORM_DOMAIN>`, the platform
# console and public directory on the bare domain.
PLATFORM_DOMAIN = os.environ.get("PLATFORM_DOMAIN", "localhost")
PLATFORM_SCHEME = os.environ.get("PLATFORM_SCHEME", "http")
# Port appended to URLs the platform prints (directory API base URLs, demo banner); empty in production.
PLATFORM_PUBLIC_PORT = os.environ.get("PLATFORM_PUBLIC_PORT", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", f"{PLATFORM_DOMAIN},.{PLATFORM_DOMAIN},testserver")

# --- Applications -------------------------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants",
    # Both the public schema (platform operators) and every municipality schema (residents and
    # staff) have their own users, groups and sessions.
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "accounts",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    # The shared catalog of external mini-apps: one table in the public schema that every
    # municipality reads, so one city can enable what another published.
    "miniapps.catalog",
    "citizen_id.jpki",  # J-LIS revocation lists, one copy for the whole installation
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "accounts",
    "admin_console",
    "notifications",
    # The mini-app framework, then the built-in mini-apps (each declares its manifest in apps.py).
    "miniapps",
    "miniapps.announcements",
    "miniapps.feedback",
    "miniapps.garbage",
    "miniapps.community",
    "miniapps.attendance",
    "citizen_id",
    "shelters",
    "analytics",  # data platform: aggregates, exports, open data (after the apps it reads)
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Municipality"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New municipalities are cloned from this migrated schema (fast path); `manage.py
# prepare_tenant_template` creates and migrates it and must run on every deploy.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Without this django-tenants sends `SET search_path` before every statement, not once per request.
TENANT_LIMIT_SET_CALLS = True
TENANT_HOST_CACHE_SECONDS = int(os.environ.get("TENANT_HOST_CACHE_SECONDS", "30"))

MIDDLEWARE = [
    "superapp.middleware.MunicipalityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Anonymous GETs of the public shelter list and active alerts stop here (disaster surge).
    "shelters.middleware.PublicReadsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "superapp.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "superapp.urls_public"
WSGI_APPLICATION = "superapp.wsgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/superapp")
_db = dj_database_url.parse(DATABASE_URL)
_db.update(
    ENGINE="django_tenants.postgresql_backend",
    # Persistent connections: with CONN_MAX_AGE=0 a tenant API list fell from 466 to 148 req/s.
    CONN_MAX_AGE=int(os.environ.get("CONN_MAX_AGE", "600")),
    # A health check is one `SELECT 1` round trip on the first query of each request; it turns a
    # connection killed by a database restart into a reconnect instead of one failed request.
    CONN_HEALTH_CHECKS=env_bool("CONN_HEALTH_CHECKS", True),
)
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker and result backend ---------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Parallel test workers (pytest-xdist) share one Redis; each gets its own key space.
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "superapp") + os.environ.get("PYTEST_XDIST_WORKER", ""),
        # Every cache key carries the schema name, so municipalities never read each other's entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/console/login/"
# Residents' API tokens live this long; staff device tokens are shorter-lived.
RESIDENT_TOKEN_TTL = timedelta(days=int(os.environ.get("RESIDENT_TOKEN_TTL_DAYS", "365")))
STAFF_TOKEN_TTL = timedelta(hours=int(os.environ.get("STAFF_TOKEN_TTL_HOURS", "12")))
# Staff sign-in lockout: this many failures within the window lock the account name + address.
STAFF_LOGIN_MAX_FAILURES = int(os.environ.get("STAFF_LOGIN_MAX_FAILURES", "5"))
STAFF_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("STAFF_LOGIN_LOCKOUT_SECONDS", "900"))
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Internationalisation: Japanese first, English alongside -------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Also serve what the finders see (app and npm static dirs), so a STATIC_ROOT collected before a new
# asset was added never hides it; collectstatic still produces the compressed copies.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Uploaded files land under MEDIA_ROOT/<schema>/...
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "superapp.api.pagination.PageNumberPagination",
    "EXCEPTION_HANDLER": "superapp.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {
        "resident_signup": os.environ.get("RESIDENT_SIGNUP_RATE", "30/hour"),
        "staff_token": os.environ.get("STAFF_TOKEN_RATE", "60/hour"),
        "feedback": os.environ.get("FEEDBACK_RATE", "20/hour"),
        "citizen_id_challenge": os.environ.get("CITIZEN_ID_CHALLENGE_RATE", "30/hour"),
        "citizen_id_enroll": os.environ.get("CITIZEN_ID_ENROLL_RATE", "20/hour"),
        "citizen_id_qr": os.environ.get("CITIZEN_ID_QR_RATE", "600/hour"),
        "citizen_id_verify": os.environ.get("CITIZEN_ID_VERIFY_RATE", "1200/minute"),
    },
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")) or None,
    "PAGE_SIZE": 50,
    # `?format=` belongs to the endpoints (e.g. ?format=csv on reports), not to DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Municipal Super App API (自治体スーパーアプリ API)",
    "DESCRIPTION": (
        "REST API of one municipality. Call it on the municipality's host (e.g. saga.localhost). "
        "Residents authenticate with `Authorization: Bearer <token>` from POST /api/v1/residents/. "
        "Every error has the shape {\"error\": {\"code\", \"message\", \"message_en\", \"fields\"}}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI and Redoc assets come from the drf-spectacular-sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MiniAppCategoryEnum": "miniapps.manifest.Category",
        "NotificationTopicEnum": "notifications.models.Topic",
        "StaffNotificationTopicEnum": "notifications.api.serializers.STAFF_TOPIC_CHOICES",
        "MiniAppKindEnum": "miniapps.api.serializers.KINDS",
        "ResidentAttributeEnum": "miniapps.catalog.models.ResidentAttribute",
        "ExternalMiniAppStatusEnum": "miniapps.catalog.models.ExternalMiniApp.Status",
        "OwnerKindEnum": "miniapps.catalog.models.ExternalMiniApp.OwnerKind",
        "FeedbackCategoryEnum": "miniapps.feedback.models.Feedback.Category",
        "FeedbackStatusEnum": "miniapps.feedback.models.Feedback.Status",
        "CommunityCategoryEnum": "miniapps.community.models.Category",
        "CommunityPostStatusEnum": "miniapps.community.models.Post.Status",
        "CommunityRsvpAnswerEnum": "miniapps.community.models.Rsvp.Answer",
        "CommunityRsvpStatusEnum": "miniapps.community.models.Rsvp.Status",
        "CommunityReportReasonEnum": "miniapps.community.models.PostReport.Reason",
        "CommunityReportStatusEnum": "miniapps.community.models.PostReport.Status",
        "CommunityPointsKindEnum": "miniapps.community.models.PointsEntry.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "superapp.api.openapi.add_error_responses",
    ],
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_DEFAULT_QUEUE", "default")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 3600
# tenant-schemas-celery: without this every task looked its tenant up again (79 vs 239 inserts/s).
CELERY_TASK_TENANT_CACHE_SECONDS = int(os.environ.get("CELERY_TASK_TENANT_CACHE_SECONDS", "60"))
# Celery's Django fixup closes the DB connection around every task unless this is set.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# One beat entry per job; `tenants.tasks.fan_out` runs the named task once in every active tenant.
CELERY_BEAT_SCHEDULE = {
    "purge-expired-api-tokens": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=3, minute=17),
        "args": ("accounts.tasks.purge_expired_tokens",),
    },
    "community-purge-orphan-images": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=3, minute=41),
        "args": ("community.tasks.purge_orphan_images",),
    },
    # 学校出欠連絡: after the schools' morning cut-offs, and the nightly counts + retention run.
    "attendance-outbreak-check": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=9, minute=5, day_of_week="mon-fri"),
        "args": ("attendance.tasks.evaluate_outbreaks",),
    },
    "attendance-nightly": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=0, minute=40),
        "args": ("attendance.tasks.nightly",),
    },
    "aggregate-miniapp-usage": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(minute="*/10"),
        "args": ("miniapps.tasks.aggregate_usage",),
    },
    "maintain-miniapp-signing-keys": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=4, minute=7),
        "args": ("miniapps.tasks.maintain_signing_keys",),
    },
    "citizen-id-maintenance": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=4, minute=7),
        "args": ("citizen_id.tasks.maintain",),
    },
}
CELERY_BEAT_SCHEDULE.update({
    # Garbage-day reminders due in the last few minutes (idempotent per reminder group and date).
    "garbage-reminders": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(minute="*/5"),
        "args": ("miniapps.garbage.tasks.send_due_reminders",),
    },
})
CELERY_BEAT_SCHEDULE.update({
    # Scheduled notifications whose time has come, and per-device fan-outs whose worker died.
    "notifications-dispatch-due": {
        "task": "tenants.tasks.fan_out",
        "schedule": timedelta(seconds=int(os.environ.get("NOTIFICATIONS_TICK_SECONDS", "30"))),
        "args": ("notifications.tasks.dispatch_due",),
    },
    # Safety net for FCM topic subscriptions whose on-commit sync failed.
    "notifications-sync-topics": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(minute="*/5"),
        "args": ("notifications.tasks.sync_topic_subscriptions",),
    },
})
CELERY_BEAT_SCHEDULE.update({
    # Data platform: rebuild the daily facts that changed, then start the scheduled exports due today.
    "analytics-nightly": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(hour=1, minute=10),
        "args": ("analytics.tasks.nightly",),
    },
    # Expired export files deleted, exports of dead workers failed, open-data update times refreshed.
    "analytics-maintenance": {
        "task": "tenants.tasks.fan_out",
        "schedule": crontab(minute=23),
        "args": ("analytics.tasks.maintain",),
    },
})
# Disaster notifications travel on their own queue; run a worker that consumes only it (plus the
# routine workers on "disaster,default") so a flood warning never waits behind garbage reminders.
CELERY_DISASTER_QUEUE = os.environ.get("CELERY_DISASTER_QUEUE", "disaster")
# Unacknowledged tasks of a worker that died are redelivered after this long (kombu Redis transport).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
if os.environ.get("CELERY_UNACKED_RESTORE_SECONDS"):  # how often workers look for such tasks (kombu: ~100 s)
    CELERY_BROKER_TRANSPORT_OPTIONS.update(unacked_restore_interval=int(os.environ["CELERY_UNACKED_RESTORE_SECONDS"]),
                                           unacked_restore_throttle=1)
# A worker writes a heartbeat to Redis this often; /healthz reports Celery down after CELERY_HEALTH_STALE.
CELERY_HEARTBEAT_SECONDS = 5
CELERY_HEALTH_STALE_SECONDS = int(os.environ.get("CELERY_HEALTH_STALE_SECONDS", "30"))

# --- Digital citizen ID (citizen_id) -------------------------------------------------------------
# PEM files of the JPKI signing CA certificates (J-LIS), comma-separated; several during CA renewal.
JPKI_TRUST_ANCHORS = env_list("JPKI_TRUST_ANCHORS")
# Enrolment is refused (503) when the issuer's CRL is older than its nextUpdate plus this grace.
JPKI_CRL_GRACE_HOURS = int(os.environ.get("JPKI_CRL_GRACE_HOURS", "48"))
# Keyring for PII at rest: "<id>:<base64 32 bytes>,..."; the active key encrypts, all decrypt
# (`manage.py rotate_pii_key` re-wraps rows). Empty: a development key derived from SECRET_KEY.
CITIZEN_ID_PII_KEYS = os.environ.get("CITIZEN_ID_PII_KEYS", "")
CITIZEN_ID_PII_ACTIVE_KEY = os.environ.get("CITIZEN_ID_PII_ACTIVE_KEY", "")
# Key for the keyed hash that recognises a card (issuer + serial) without storing it; never rotate.
CITIZEN_ID_BLIND_INDEX_KEY = os.environ.get("CITIZEN_ID_BLIND_INDEX_KEY", "")
CITIZEN_ID_CHALLENGE_TTL_SECONDS = int(os.environ.get("CITIZEN_ID_CHALLENGE_TTL_SECONDS", "300"))
CITIZEN_ID_QR_TTL_SECONDS = int(os.environ.get("CITIZEN_ID_QR_TTL_SECONDS", "60"))
# A shelter tablet that lost its network verifies QRs offline and uploads them later: a QR is accepted
# if it was valid when scanned, for uploads up to this many hours after the scan.
CITIZEN_ID_OFFLINE_UPLOAD_HOURS = int(os.environ.get("CITIZEN_ID_OFFLINE_UPLOAD_HOURS", "72"))
# Printed card QRs; a municipality's settings["citizen_id_card_qr_days"] overrides.
CITIZEN_ID_CARD_QR_DAYS = int(os.environ.get("CITIZEN_ID_CARD_QR_DAYS", "365"))
# A citizen ID suspended (card revoked or expired) this long is revoked and its PII erased.
CITIZEN_ID_SUSPENDED_RETENTION_DAYS = int(os.environ.get("CITIZEN_ID_SUSPENDED_RETENTION_DAYS", "90"))
# Roles that may scan a citizen ID for each purpose (municipality admins always may).
CITIZEN_ID_VERIFY_ROLES = {
    "shelter": ["shelter_staff", "disaster_staff"],
    "event": ["shelter_staff", "disaster_staff", "community_moderator"],
    "counter": ["municipality_admin"],
}
# --- Shelters -------------------------------------------------------------------------------------
# Each process re-reads the version of the public shelter list / active alerts from Redis at most this
# often (seconds); a change shows up everywhere within it, and at once in the process that made it.
SHELTERS_PUBLIC_RECHECK_SECONDS = float(os.environ.get("SHELTERS_PUBLIC_RECHECK_SECONDS", "0.2"))
# --- Mini-apps: launch tokens for external mini-apps (see miniapps/sso.py) ------------------------
MINIAPPS_LAUNCH_TOKEN_TTL_SECONDS = int(os.environ.get("MINIAPPS_LAUNCH_TOKEN_TTL_SECONDS", "300"))
# Encrypts the stored signing keys. Set it in production: the SECRET_KEY fallback means rotating
# SECRET_KEY replaces every municipality's signing key (harmless for 5-minute tokens, but noisy).
MINIAPPS_SIGNING_KEY_PASSPHRASE = os.environ.get("MINIAPPS_SIGNING_KEY_PASSPHRASE", "") or SECRET_KEY
MINIAPPS_SIGNING_KEY_ROTATION_DAYS = int(os.environ.get("MINIAPPS_SIGNING_KEY_ROTATION_DAYS", "90"))
MINIAPPS_SIGNING_KEY_RETIRED_KEEP_DAYS = int(os.environ.get("MINIAPPS_SIGNING_KEY_RETIRED_KEEP_DAYS", "2"))

# --- Data platform (analytics) ------------------------------------------------------------------
# Finished exports can be downloaded this long; named operational lists (personal data) only this many hours.
ANALYTICS_EXPORT_TTL_DAYS = int(os.environ.get("ANALYTICS_EXPORT_TTL_DAYS", "7"))
ANALYTICS_NAMED_LIST_TTL_HOURS = int(os.environ.get("ANALYTICS_NAMED_LIST_TTL_HOURS", "24"))
ANALYTICS_MAX_RANGE_DAYS = int(os.environ.get("ANALYTICS_MAX_RANGE_DAYS", "366"))
ANALYTICS_MAX_ACTIVE_EXPORTS = int(os.environ.get("ANALYTICS_MAX_ACTIVE_EXPORTS", "3"))  # queued or running, per person
# A running export that reported no progress for this long is considered lost (worker died).
ANALYTICS_EXPORT_STALE_SECONDS = int(os.environ.get("ANALYTICS_EXPORT_STALE_SECONDS", "900"))
# The longest an export's query may run before PostgreSQL cancels it (the job fails saying so).
ANALYTICS_EXPORT_TIMEOUT_SECONDS = float(os.environ.get("ANALYTICS_EXPORT_TIMEOUT_SECONDS", "3600"))
# Nightly: days back the facts other than usage are rebuilt (pushes are opened for days, reports corrected).
ANALYTICS_REBUILD_WINDOW_DAYS = int(os.environ.get("ANALYTICS_REBUILD_WINDOW_DAYS", "14"))
# Streaming sizes: CSV block pyarrow parses at once, Parquet row group, rows per Hyper load.
ANALYTICS_CSV_BLOCK_BYTES = int(os.environ.get("ANALYTICS_CSV_BLOCK_BYTES", str(1 << 20)))
ANALYTICS_PARQUET_ROW_GROUP = int(os.environ.get("ANALYTICS_PARQUET_ROW_GROUP", "65536"))
ANALYTICS_HYPER_CHUNK_ROWS = int(os.environ.get("ANALYTICS_HYPER_CHUNK_ROWS", "65536"))
# Upper bound of the Tableau Hyper server's database cache while it writes an export (Hyper's syntax).
ANALYTICS_HYPER_CACHE_LIMIT = os.environ.get("ANALYTICS_HYPER_CACHE_LIMIT", "64m")
ANALYTICS_PROGRESS_ROWS = int(os.environ.get("ANALYTICS_PROGRESS_ROWS", "10000"))
# Where exports are written before they are moved into the municipality's storage (default: the system temp dir).
ANALYTICS_WORK_DIR = os.environ.get("ANALYTICS_WORK_DIR", "")

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "no-reply@superapp.example")

# --- Push (FCM through firebase-admin) ----------------------------------------------------------
# FCM_ENDPOINT points firebase-admin at another FCM HTTP v1 server, e.g. the fake one from
# `manage.py fake_fcm --port 9099` (http://127.0.0.1:9099); empty means Google's. A municipality
# with its own Firebase project sets settings["firebase"] = {"project_id", "credentials_file"};
# the others use FCM_PROJECT_ID with FCM_CREDENTIALS_FILE, or anonymous credentials (fake server).
FCM_ENDPOINT = os.environ.get("FCM_ENDPOINT", "")
FCM_PROJECT_ID = os.environ.get("FCM_PROJECT_ID", "superapp-local")
FCM_CREDENTIALS_FILE = os.environ.get("FCM_CREDENTIALS_FILE", "")
FCM_HTTP_TIMEOUT_SECONDS = int(os.environ.get("FCM_HTTP_TIMEOUT_SECONDS", "30"))
NOTIFICATIONS_CHUNK_SIZE = 500  # tokens per send_each call (FCM's limit)
NOTIFICATIONS_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATIONS_MAX_ATTEMPTS", "5"))
NOTIFICATIONS_RETRY_BASE_SECONDS = float(os.environ.get("NOTIFICATIONS_RETRY_BASE_SECONDS", "2"))
# A fan-out that made no progress this long (its worker died) is resumed by the beat tick.
NOTIFICATIONS_STALL_SECONDS = int(os.environ.get("NOTIFICATIONS_STALL_SECONDS", "300"))
# The inbox shows broadcasts from this many days before a resident joined.
# Record each message FCM accepts in Redis the moment it is accepted, so a chunk redelivered after
# its worker died mid-batch does not send those again (off only to measure what it saves).
NOTIFICATIONS_ACCEPTANCE_LEDGER = env_bool("NOTIFICATIONS_ACCEPTANCE_LEDGER", True)
NOTIFICATIONS_INBOX_BACKFILL_DAYS = int(os.environ.get("NOTIFICATIONS_INBOX_BACKFILL_DAYS", "30"))

# --- Security -----------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None

# --- Logging to stdout (structlog in app code renders key=value events through it) --------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(name)s] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}, "django.request": {"level": "ERROR"}},
}

# --- Staff console (/console/ on a municipality's host) and platform console (/platform/) ---------
# Paths under these prefixes get HTML error pages (everything else keeps the JSON error shape), the
# console's Content-Security-Policy, its language choice (cookie, else Japanese) and no-store caching.
CONSOLE_PATH_PREFIXES = ("/console/", "/platform/")
MIDDLEWARE += [
    "django_htmx.middleware.HtmxMiddleware",
    "admin_console.middleware.ConsoleMiddleware",
]
# Signed-in console sessions end after this much inactivity, and in any case SESSION_COOKIE_AGE after sign-in.
CONSOLE_IDLE_TIMEOUT_SECONDS = int(os.environ.get("CONSOLE_IDLE_TIMEOUT_SECONDS", "1800"))
# No inline script or style anywhere in the console: everything comes from /static/.
CONSOLE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CSRF_FAILURE_VIEW = "superapp.api.errors.csrf_failure"
# htmx comes from the npm registry (`npm ci`, see package.json), served as /static/vendor/htmx/htmx.min.js.
STATICFILES_DIRS = [("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist")]
# Dashboard aggregates over all residents are reused this long (per municipality); 0: always exact.
CONSOLE_DASHBOARD_CACHE_SECONDS = int(os.environ.get("CONSOLE_DASHBOARD_CACHE_SECONDS", "60"))
# Staff invitation links (one-time set-password links) stay valid this long.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("STAFF_INVITE_LINK_SECONDS", str(3 * 24 * 3600)))
