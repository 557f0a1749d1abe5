"""Custos settings: one file, driven by the environment.

Every setting an operator may change is read here through a small typed helper that
fails loudly on a malformed value; the README's configuration table lists them.
"""

from __future__ import annotations

import os
import secrets
import sys
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from the environment, or from the file named by NAME_FILE."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name, "1" if default else "0").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env_str(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_site(name: str, default: str) -> str:
    """The site's address for links in mails: scheme and host (and port), nothing after.
    Custos routes by the path from the host's root, so a link under a path would lead nowhere."""
    value = env_str(name, default).strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in {"", "/"}
        or "?" in value
        or "#" in value
    ):
        raise ImproperlyConfigured(f"{name} must be http(s)://host[:port] with no path, query or credentials")
    return f"{parts.scheme}://{parts.netloc}"


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("CUSTOS_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def var_secret(name: str, file_name: str, generate: Any) -> str:
    """A secret from the environment, else from var/, generated there (mode 0600) once."""
    value = env_str(name)
    if value:
        return value
    path = VAR_DIR / file_name
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate())
    return path.read_text().strip()


SECRET_KEY = var_secret("CUSTOS_SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
# Master keys wrap each organisation's data key. The first is current; any further
# (comma-separated) are former keys still accepted for unwrapping until
# `custos keys rotate` has re-wrapped everything under the current one.
CUSTOS_MASTER_KEYS = env_list(
    "CUSTOS_MASTER_KEY",
    var_secret(
        "CUSTOS_MASTER_KEY",
        "master_key",
        lambda: urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    ),
)

TESTING = "pytest" in sys.modules or env_bool("CUSTOS_TESTING")
DEBUG = env_bool("CUSTOS_DEBUG")
HTTPS = env_bool("CUSTOS_HTTPS")

ALLOWED_HOSTS = env_list("CUSTOS_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CUSTOS_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Custos apps first, so that their management commands (migrate) win.
    "custos.core",
    "custos.accounts",
    "custos.audit",
    "custos.privacy",
    "custos.search",
    "custos.crm",
    "custos.scheduling",
    "custos.api",
    "custos.web",
    "custos.portal",
    "custos.ops",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "django_rq",
    "ninja",
]

MIDDLEWARE = [
    "custos.core.middleware.TenantResetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "custos.api.middleware.ApiProblemMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Sessions, the signed-in user and messages serve the staff UI: the API, which
    # authenticates by token alone, skips them (subclasses of Django's own).
    "custos.core.middleware.WebSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "custos.core.middleware.WebAuthenticationMiddleware",
    "custos.web.middleware.UserLanguageMiddleware",
    "custos.core.middleware.WebMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "custos.web.middleware.LoginRequiredMiddleware",
    "custos.web.middleware.OrganizationMiddleware",
    "custos.web.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:sign-in"
LOGIN_REDIRECT_URL = "web:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "custos.web.context.shell",
            ],
        },
    },
]

# Databases -----------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'custos.sqlite3'}")
# No health check: it costs every request that touches the database one more round trip
# (`SELECT 1`, one of three for an API read). Without it, a connection the server closed
# (a PostgreSQL restart) fails the one request that next uses it, which changes nothing
# (writes are transactions), and Django then replaces the connection.
_database = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=False)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["CONN_MAX_AGE"] = 0 if TESTING else 600
    _database["OPTIONS"] = {
        # WAL lets readers go on while one writer writes; IMMEDIATE takes the write
        # lock at BEGIN, so concurrent writers queue instead of failing mid-way.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif _database["ENGINE"] in {
    "django.db.backends.postgresql",
    "django.db.backends.postgresql_psycopg2",
}:
    _database["ENGINE"] = "custos.core.db.postgresql"
    # No JIT: it compiles a statement the planner thinks costly before running it, and the
    # planner prices a list read row by row up to a LIMIT as if it read the whole table
    # (measured: 16 to 870 ms of compiling for a 150 ms statement at a million contacts).
    # work_mem: with the default 4 MB, a trigram look-up matching a hundred thousand search
    # entries keeps its bitmap by page, not by row, and rechecks every row of every page
    # (30,000 entries of an email domain: 1.7 s, 0.4 s with 32 MB).
    # Options given in DATABASE_URL come after it, so an operator's own work_mem wins.
    CUSTOS_DB_WORK_MEM_MB = env_int("CUSTOS_DB_WORK_MEM_MB", 32)
    if not 1 <= CUSTOS_DB_WORK_MEM_MB <= 2048:
        raise ImproperlyConfigured(f"CUSTOS_DB_WORK_MEM_MB must be from 1 to 2048, not {CUSTOS_DB_WORK_MEM_MB}")
    _options = _database.setdefault("OPTIONS", {})
    _options["options"] = " ".join(
        filter(None, [f"-c work_mem={CUSTOS_DB_WORK_MEM_MB}MB", _options.get("options", ""), "-c jit=off"])
    )
else:
    raise ImproperlyConfigured("DATABASE_URL must point to SQLite or PostgreSQL")
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The login role the application switches to on PostgreSQL, so that row-level
# security applies: it is neither superuser nor owner of the tables.
CUSTOS_DB_APP_ROLE = env_str("CUSTOS_DB_APP_ROLE", "custos_app")

# Cache, tasks -----------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "custos",
        }
    }
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
else:
    # A table, so that every process of one installation shares throttle counters.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "custos_cache",
        }
    }
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {}

# Security ---------------------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_AGE = env_int("CUSTOS_SESSION_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# Request bodies under /api/v1 larger than this get 413.
CUSTOS_API_MAX_BODY_BYTES = env_int("CUSTOS_API_MAX_BODY_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = CUSTOS_API_MAX_BODY_BYTES

CUSTOS_LOGIN_MAX_FAILURES = env_int("CUSTOS_LOGIN_MAX_FAILURES", 5)
CUSTOS_LOGIN_LOCKOUT_SECONDS = env_int("CUSTOS_LOGIN_LOCKOUT_SECONDS", 15 * 60)
CUSTOS_LOGIN_MAX_FAILURES_PER_IP = env_int("CUSTOS_LOGIN_MAX_FAILURES_PER_IP", 20)
CUSTOS_AUDIT_IP_RETENTION_DAYS = env_int("CUSTOS_AUDIT_IP_RETENTION_DAYS", 90)
CUSTOS_PASSWORD_RESET_SECONDS = env_int("CUSTOS_PASSWORD_RESET_SECONDS", 3600)
PASSWORD_RESET_TIMEOUT = CUSTOS_PASSWORD_RESET_SECONDS

# Mail -------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("CUSTOS_MAIL_FROM", "Custos <custos@localhost>")
if env_str("CUSTOS_SMTP_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env_str("CUSTOS_SMTP_HOST"),
                "port": env_int("CUSTOS_SMTP_PORT", 25),
                "username": env_str("CUSTOS_SMTP_USER"),
                "password": env_str("CUSTOS_SMTP_PASSWORD"),
                "use_tls": env_bool("CUSTOS_SMTP_STARTTLS"),
                "use_ssl": env_bool("CUSTOS_SMTP_SSL"),
                "timeout": 20,
            },
        }
    }
else:
    # Without an SMTP server configured, mail is written to var/mail/ instead of being lost.
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }

# Internationalisation -------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("pl", "Polski"),
    ("ar", "العربية"),
]
LANGUAGES_BIDI = ["ar"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Berlin"

# Static files -----------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING or DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
MEDIA_ROOT = VAR_DIR / "files"

# Logging: ids and event names only; personal values never reach a log line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CUSTOS_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django logs 4xx request lines with the full path; paths may carry query text.
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

CUSTOS_BASE_URL = env_site("CUSTOS_BASE_URL", "http://127.0.0.1:8000")
