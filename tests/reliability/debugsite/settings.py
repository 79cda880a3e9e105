"""The example site's settings, unchanged, plus ``DEBUG = True`` and two failing views."""

from django_site.settings import *  # noqa: F403 - the example site exactly as it is

DEBUG = True
ROOT_URLCONF = "tests.reliability.debugsite.urls"
