"""Views a deployment-shape test asks what the process signs with."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from secret_keyring.keyring import fingerprint
from tests.django.project.urls import urlpatterns as base_urlpatterns


def sign(request: HttpRequest) -> JsonResponse:
    """A token signed with this process's ``SECRET_KEY``, and that key's fingerprint."""
    value = request.GET.get("value", "hello")
    return JsonResponse(
        {"signed": signing.dumps(value), "current": fingerprint(settings.SECRET_KEY)}
    )


def verify(request: HttpRequest) -> HttpResponse:
    """200 with the value when the token verifies with the current key or a fallback."""
    try:
        return HttpResponse(signing.loads(request.GET.get("token", "")))
    except signing.BadSignature:
        return HttpResponse("bad signature", status=400)


urlpatterns = [*base_urlpatterns, path("sign/", sign), path("verify/", verify)]
