"""Settings, read from the environment and an optional `.env` file (names in docs/api.md §9)."""

import re
import sys
import warnings
from pathlib import Path

import environ

from config.provider_settings import provider_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _fail(message: str) -> None:
    """Stop at startup with one clear line instead of a traceback."""
    sys.stderr.write(f"Configuration error: {message}\n")
    raise SystemExit(1)


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        _fail("SECRET_KEY is not set. Set it in the environment or in .env (at least 32 characters).")
    SECRET_KEY = "insecure-development-key-only-used-when-debug-is-true"
elif len(SECRET_KEY) < 32:
    _fail("SECRET_KEY must be at least 32 characters long.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "admins.apps.AccountsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_ratelimit",
    "oauth2_provider",
    "common",
    "tokens",
    "accounts",
    "admins",
]

MIDDLEWARE = [
    "common.middleware.RequestIdMiddleware",
    "common.logs.AccessLogMiddleware",
    "common.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "common.browser_middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "common.browser_middleware.AuthenticationMiddleware",
    "common.browser_middleware.MessageMiddleware",
    "common.after_response.AfterResponseMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False  # every API path answers with and without the slash, never a redirect

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let several gunicorn workers share one file.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    _db["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
else:
    # A new PostgreSQL connection per request costs about 5x in throughput.
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    # No health-check round trip per request: a connection that broke fails its request (503)
    # and is then closed; the next request reconnects.
    _db["CONN_HEALTH_CHECKS"] = False
    # Fail fast when the database is unreachable (503 within seconds, never a hung worker):
    # connecting gives up after 3 s, and a connection whose peer stops acknowledging is
    # dropped after 5 s; the next request reconnects by itself.
    _db.setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": 3,
            "tcp_user_timeout": 5000,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits) ----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Shared by every process using the same database; see README for its limits.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_entries",  # created by common's first migration
        }
    }

RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "common.net.client_ip"
RATELIMIT_FAIL_OPEN = True
SILENCED_SYSTEM_CHECKS = [
    # Django's RedisCache increments atomically; the check only knows django-redis.
    "django_ratelimit.W001",
    # The embedded DatabaseCache is shared by processes but increments are not atomic:
    # a burst of concurrent attempts may overshoot the limit slightly (README).
    "django_ratelimit.E003",
    # Admin.username is unique case-insensitively through a functional unique index,
    # and AdminSiteBackend looks it up that way.
    "auth.E003",
    "auth.W004",
    # HSTS preloading is a commitment an operator makes at hstspreload.org, not a default.
    "security.W021",
    "oauth2_provider.W008",  # http redirect URIs: clients take them for loopback only (RFC 8252)
]

# --- Accounts and passwords ---------------------------------------------------
AUTH_USER_MODEL = "admins.Admin"
AUTHENTICATION_BACKENDS = ["admins.backends.AdminSiteBackend"]
PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=6)
PASSWORD_HASHERS = [
    "accounts.hashers.BoundedArgon2PasswordHasher",  # new passwords, and re-hashes at login
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "accounts.hashers.LegacyBCryptPasswordHasher",  # bcrypt hashes imported from the FastAPI service
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "name", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.breached.PwnedPasswordValidator"},  # off unless PWNED_PASSWORDS_URL is set
]
PWNED_PASSWORDS_URL = env.str("PWNED_PASSWORDS_URL", default="")  # e.g. https://api.pwnedpasswords.com/range/
PWNED_PASSWORDS_MIN_COUNT = env.int("PWNED_PASSWORDS_MIN_COUNT", default=1)
PWNED_PASSWORDS_TIMEOUT = env.float("PWNED_PASSWORDS_TIMEOUT", default=2.0)
PWNED_PASSWORDS_FAIL_CLOSED = env.bool("PWNED_PASSWORDS_FAIL_CLOSED", default=False)
PASSWORD_MAX_LENGTH = 1024

MAX_LOGIN_ATTEMPTS = env.int("MAX_LOGIN_ATTEMPTS", default=5)
LOCKOUT_DURATION_MINUTES = env.int("LOCKOUT_DURATION_MINUTES", default=30)
RATE_LIMIT_ATTEMPTS = env.int("RATE_LIMIT_ATTEMPTS", default=5)
RATE_LIMIT_WINDOW_MINUTES = env.int("RATE_LIMIT_WINDOW_MINUTES", default=15)
REGISTER_RATE = env.str("REGISTER_RATE", default="20/h")
AVATAR_RATE = env.str("AVATAR_RATE", default="30/h")  # avatar uploads, per IP and per account
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Tokens ---------------------------------------------------------------------------
ALGORITHM = env.str("ALGORITHM", default="HS256")
if ALGORITHM not in ("HS256", "HS384", "HS512", "ES256", "RS256", "EdDSA"):
    _fail(
        "ALGORITHM must be HS256 (signed with SECRET_KEY) or ES256, RS256 or EdDSA (signing keys kept in the "
        "database, published at /.well-known/jwks.json)."
    )
SIGNING_KEYS_RELOAD_SECONDS = env.int("SIGNING_KEYS_RELOAD_SECONDS", default=30)  # how soon a rotation is seen
JWT_ISSUER = env.str("JWT_ISSUER", default="") or None  # set: tokens carry `iss` and must carry it
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="") or None  # set: tokens carry `aud` and must carry it
# Resource servers authenticate to POST /auth/introspect with one of these (unset: 404).
INTROSPECTION_TOKENS = [token for token in env.list("INTROSPECTION_TOKENS", default=[]) if token]
ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=60)
REFRESH_TOKEN_EXPIRE_DAYS = env.int("REFRESH_TOKEN_EXPIRE_DAYS", default=7)
PAT_DEFAULT_EXPIRE_DAYS = env.int("PAT_DEFAULT_EXPIRE_DAYS", default=90)
PAT_LAST_USED_RESOLUTION_SECONDS = 60
ADMIN_MFA_REQUIRED = env.bool("ADMIN_MFA_REQUIRED", default=False)
REAUTH_MAX_AGE_SECONDS = env.int("REAUTH_MAX_AGE_SECONDS", default=900)  # §27: the sensitive operations
MFA_ISSUER = env.str("MFA_ISSUER", default=env.str("PRODUCT_NAME", default="Accounts"))

# Only simplejwt's token layer is used (tokens.jwt_tokens, which gives it its backend).
SIMPLE_JWT = {"ALGORITHM": ALGORITHM if ALGORITHM.startswith("HS") else "HS256", "SIGNING_KEY": SECRET_KEY}

# --- Email -------------------------------------------------------------------------------
# EMAIL_URL: consolemail://, smtp://user:pass@host:587, smtp+tls://... (or EMAIL_BACKEND, see README).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=EMAIL_BACKEND)  # noqa: F821 - set by the line above
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds; a hung mail server never hangs a worker
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PRODUCT_NAME = env.str("PRODUCT_NAME", default="Accounts")
FRONTEND_URL = env.str("FRONTEND_URL", default="").rstrip("/")
PASSWORD_RESET_TIMEOUT_MINUTES = env.int("PASSWORD_RESET_TIMEOUT_MINUTES", default=30)
EMAIL_VERIFICATION_TIMEOUT_HOURS = env.int("EMAIL_VERIFICATION_TIMEOUT_HOURS", default=48)
REQUIRE_EMAIL_VERIFICATION = env.bool("REQUIRE_EMAIL_VERIFICATION", default=False)
EMAIL_RATE = env.str("EMAIL_RATE", default="5/h")
LOGIN_CODE_REALMS = [r.strip() for r in env.list("LOGIN_CODE_REALMS", default=["user"]) if r.strip()]  # §26
LOGIN_CODE_TIMEOUT_MINUTES = env.int("LOGIN_CODE_TIMEOUT_MINUTES", default=10)
INVITATION_TIMEOUT_DAYS = env.int("INVITATION_TIMEOUT_DAYS", default=7)
ACCOUNT_ERASURE_DAYS = env.int("ACCOUNT_ERASURE_DAYS", default=30)  # purge_deleted erases after this (§27)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=8)  # then the mail is given up
EMAIL_RETENTION_DAYS = env.int("EMAIL_RETENTION_DAYS", default=30)  # sent and given-up mail is purged after

# --- Passkeys (tokens.passkeys) --------------------------------------------------------------
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="")  # empty: the host of FRONTEND_URL, else the request's
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default=PRODUCT_NAME)
PASSKEYS_ENABLED = env.bool("PASSKEYS_ENABLED", default=True)  # false: no new passkeys, no passkey sign-in
WEBAUTHN_ORIGINS = [
    o.rstrip("/") for o in env.list("WEBAUTHN_ORIGINS", default=[]) if o
]  # empty: see tokens.passkeys.services

# --- Identity providers (tokens.oidc) ---------------------------------------------------------
# {"slug": {"issuer", "client_id", "client_secret", "name", "realms", "scopes", "audiences"}} (tokens.oidc.providers)
try:
    OIDC_PROVIDERS = env.json("OIDC_PROVIDERS", default={})
except ValueError:
    _fail("OIDC_PROVIDERS is not valid JSON.")
if not isinstance(OIDC_PROVIDERS, dict):
    _fail("OIDC_PROVIDERS must be a JSON object of providers keyed by slug.")
for _slug, _entry in OIDC_PROVIDERS.items():
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", _slug):
        _fail(f"OIDC_PROVIDERS: {_slug!r} is not a slug (a-z first, then a-z, 0-9, - and _).")
    if _slug in ("link", "providers", "exchange"):  # paths of their own (.../me/identities/link)
        _fail(f"OIDC_PROVIDERS: {_slug!r} is a reserved name; choose another slug.")
    if not isinstance(_entry, dict) or not str(_entry.get("issuer", "")).startswith(("https://", "http://")):
        _fail(f"OIDC_PROVIDERS[{_slug!r}] needs an http(s) issuer.")
    if not _entry.get("client_id") or not set(_entry.get("realms") or ["user"]) <= {"user", "admin"}:
        _fail(f"OIDC_PROVIDERS[{_slug!r}] needs a client_id, and realms among user and admin.")
    if _entry.get("response_mode", "query") not in ("query", "form_post"):
        _fail(f"OIDC_PROVIDERS[{_slug!r}].response_mode must be query or form_post.")
# Where a flow may send the browser back to; empty: the origin of FRONTEND_URL.
OIDC_REDIRECT_ORIGINS = [o.rstrip("/") for o in env.list("OIDC_REDIRECT_ORIGINS", default=[]) if o]
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=5)  # seconds for each call to a provider (discovery, keys, code)
# This service as an OpenID Provider (tokens.provider, §28); unset: it is not one, /oauth/... is 404.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
vars().update(provider_settings(OIDC_ISSUER, ALGORITHM, ACCESS_TOKEN_EXPIRE_MINUTES, _fail))

# --- Webhooks (common.webhooks) -----------------------------------------------------------
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5)  # seconds for one attempt
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)  # else https:// only
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)  # else public addresses only

# --- Uploads and files ----------------------------------------------------------
MEDIA_ROOT = BASE_DIR / env.str("UPLOAD_DIR", default="media")
MEDIA_URL = "/media/"
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=10)
MAX_AVATAR_PIXELS = 40_000_000
# Multipart bodies may carry an avatar; anything else is refused far below that.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o644

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / env.str("STATIC_ROOT", default="staticfiles")
WHITENOISE_USE_FINDERS = True  # works without collectstatic too
warnings.filterwarnings("ignore", message="No directory at")  # STATIC_ROOT before collectstatic

# --- HTTP and security -----------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
if not CORS_ALLOWED_ORIGINS:  # CORS off: its middleware would only cost every request time
    MIDDLEWARE.remove("corsheaders.middleware.CorsMiddleware")
CORS_URLS_REGEX = r"^/(?!django-admin/).*$"
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID", "WWW-Authenticate"]
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # forms carry the token; the browsable API reads it from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST framework -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "common.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    # Deny by default: an account of the view's realm, with what its credential may do.
    "DEFAULT_PERMISSION_CLASSES": [
        "common.permissions.SignedIn",
        "common.permissions.AdminMfaEnrolled",
        "common.permissions.TokenCanWrite",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.negotiation.LenientContentNegotiation",
    "DEFAULT_METADATA_CLASS": "common.metadata.EnvelopeMetadata",
    "EXCEPTION_HANDLER": "common.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "common.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Accounts and authentication API",
    "DESCRIPTION": "Two account realms (users and admins), JWT sessions with rotating refresh "
    "tokens, personal access tokens. Every response is wrapped in the envelope of the API reference "
    "(docs/api.md in the repository, section 2).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags start folded: unfolded, Swagger UI stops rendering after the first tag past ~140 operations.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "docExpansion": "none"},
    "PREPROCESSING_HOOKS": ["common.schema.without_trailing_slash"],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "IntrospectionBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "One of INTROSPECTION_TOKENS (resource servers only).",
            }
        }
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
}

# --- I18N -------------------------------------------------------------------------------
LANGUAGE_CODE, TIME_ZONE, USE_I18N, USE_TZ = "en-us", "UTC", True, True

# --- Logging and metrics ------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    _fail("LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.logs.RequestIdFilter"}},
    "formatters": {
        "text": {
            "()": "common.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        # One JSON object per line; a request's fields (method, path, status...) are top-level keys.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",  # stderr
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Failures are logged once, by the exception handler, with the request id.
    "loggers": {"django.request": {"level": "CRITICAL"}},
}
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
