"""The example site's URLs plus ``/boom/`` (a bug in a view) and ``/refresh/`` (a refresh that
fails inside the library, with the new payload's keys passing through its frames)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django_site.urls import urlpatterns as site_patterns

from secret_keyring.django import live


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


def refresh(request: HttpRequest) -> HttpResponse:
    current = live.active()
    assert current is not None
    current.cache.refresh()
    return HttpResponse("refreshed")


urlpatterns = [path("boom/", boom), path("refresh/", refresh), *site_patterns]
