"""Settings of the example site. The line that matters is SECRET_KEY's."""

from __future__ import annotations

import os
from pathlib import Path

from secret_keyring.django import secret_keys

BASE_DIR = Path(__file__).resolve().parent.parent

# The whole integration: the source URL comes from DJANGO_SECRET_KEY_SOURCE (the demo points it
# at a local OpenBao); without it the site uses a per-checkout development keyring.
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(
    os.environ.get("DJANGO_SECRET_KEY_SOURCE", "dev://"),
    ttl=float(os.environ.get("SECRET_KEYRING_TTL", "300")),
    max_fallbacks=int(os.environ.get("SECRET_KEYRING_MAX_FALLBACKS", "3")),
)

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "secret_keyring.django",
    "demo",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "demo.middleware.served_by",
]
ROOT_URLCONF = "django_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
WSGI_APPLICATION = "django_site.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
# Sessions are signed cookies: nothing on the server remembers a user, so a session survives a
# rotation only if its signature still verifies. The strictest possible demonstration.
# EXAMPLE_SESSION_ENGINE=db selects Django's default, database sessions, whose rows a re-key
# deletes (the fleet's page-load scenario measures what that costs during a rotation).
SESSION_ENGINE = {
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
    "db": "django.contrib.sessions.backends.db",
}[os.environ.get("EXAMPLE_SESSION_ENGINE", "signed_cookies")]
LOGIN_URL = "/login/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"secret_keyring": {"handlers": ["console"], "level": "INFO"}},
}

# The fleet test logs in hundreds of users; a fast hash keeps it about keys, not PBKDF2. Never in
# production.
if os.environ.get("EXAMPLE_FAST_PASSWORD_HASHER") == "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
