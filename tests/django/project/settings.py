"""Settings of the test project: the one-line helper, as a user would write it.

The source comes from DJANGO_SECRET_KEY_SOURCE. When it is unset (a plain `pytest` run), a fresh
keyring file is made for this process (for each pytest-xdist worker) so the suite needs no
set-up; tests find its path in SECRET_KEYRING_TEST_FILE and rotate by rewriting it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from secret_keyring.django import secret_keys

# Under pytest-xdist the controller imports these settings before it starts its workers, which
# inherit its environment: without the worker check, every worker would rotate one shared file
# under the others' feet. The marker says which process made the file; a subprocess a test starts
# inherits the marker with the worker's name, and so shares its worker's file, as it should.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_MADE_FOR = os.environ.get("SECRET_KEYRING_TEST_WORKER")
if "DJANGO_SECRET_KEY_SOURCE" not in os.environ or _MADE_FOR not in (None, _WORKER):
    from secret_keyring.keygen import new_keyring
    from secret_keyring.payload import keyring_to_json

    _path = Path(tempfile.mkdtemp(prefix="skr-test-")) / "keyring.json"
    _path.write_text(keyring_to_json(new_keyring()))
    _path.chmod(0o600)
    os.environ["SECRET_KEYRING_TEST_FILE"] = str(_path)
    os.environ["DJANGO_SECRET_KEY_SOURCE"] = f"file://{_path}"
    os.environ["SECRET_KEYRING_TEST_WORKER"] = _WORKER

SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(ttl=60)

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "secret_keyring.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.django.project.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# Sessions live in a signed cookie: the strictest test of key rotation.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None
