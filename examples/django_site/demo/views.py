"""Views that exercise what SECRET_KEY signs: session cookies, signed cookies, reset tokens.

Nothing here returns key material: the status views show fingerprints only.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from secret_keyring.django import live
from secret_keyring.keyring import fingerprint
from secret_keyring.status import render_status


def _status() -> dict[str, object]:
    current = live.active()
    data: dict[str, object] = dict(current.cache.status()) if current else {}
    data["pid"] = os.getpid()
    # What this process signs with right now, as opposed to what its cache holds.
    data["signing"] = fingerprint(settings.SECRET_KEY)
    # Whether the settings still hold the bridge fallbacks of the last update.
    data["settling"] = bool(current and current.settling)
    return data


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"user": request.user})


@csrf_exempt  # an API for the demo and the fleet test's load driver
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "login.html")
    user = authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    login(request, user)
    return HttpResponse("logged in as " + user.get_username())


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


def signed_cookie(request: HttpRequest) -> HttpResponse:
    """GET ?set=VALUE signs a cookie; a plain GET verifies the one the client sent."""
    if "set" in request.GET:
        response = HttpResponse("set")
        response.set_signed_cookie("demo", request.GET["set"], salt="example")
        return response
    try:
        return HttpResponse(request.get_signed_cookie("demo", salt="example"))
    except signing.BadSignature:
        return HttpResponse("BadSignature", status=400)
    except KeyError:
        return HttpResponse("no cookie", status=400)


def reset_token(request: HttpRequest) -> HttpResponse:
    """GET ?user=NAME makes a password-reset token; ?user=NAME&token=T checks one."""
    try:
        user = User.objects.get(username=request.GET.get("user", ""))
    except User.DoesNotExist:
        return HttpResponse("no such user", status=404)
    token = request.GET.get("token")
    if token is None:
        return HttpResponse(default_token_generator.make_token(user))
    if default_token_generator.check_token(user, token):
        return HttpResponse("valid")
    return HttpResponse("BadSignature", status=400)


def status_page(request: HttpRequest) -> HttpResponse:
    return render(request, "status.html", {"table": render_status(_status()), "pid": os.getpid()})


def status_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_status())
