"""A REST API signing its JWTs with djangorestframework-simplejwt, as its docs set it up.

SECRET_KEY comes from secret_keys() (DJANGO_SECRET_KEY_SOURCE). SIMPLE_JWT is left at its
default, so simplejwt signs with a copy of SECRET_KEY, unless JWT_SIGNING_KEY_SOURCE names a
source for a key of its own: the fix documented in "What a rotation affects".
"""

from __future__ import annotations

import os

from secret_keyring import provider_from_url
from secret_keyring.django import secret_keys

SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(ttl=60)

if "JWT_SIGNING_KEY_SOURCE" in os.environ:
    # A key of its own, kept in a secret that is not rotated with SECRET_KEY.
    SIMPLE_JWT = {
        "SIGNING_KEY": provider_from_url(os.environ["JWT_SIGNING_KEY_SOURCE"]).fetch().current
    }

DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "secret_keyring.django",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "tests.django.jwtproject.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["JWT_DB"]}}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
