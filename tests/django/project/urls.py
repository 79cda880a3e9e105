"""Views that exercise every kind of signature Django makes with SECRET_KEY."""

from __future__ import annotations

from django.contrib.auth import authenticate, login
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    login(request, user)
    return HttpResponse("ok")


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


def set_signed(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("set")
    response.set_signed_cookie("token", request.GET.get("value", "hello"), salt="demo")
    return response


def get_signed(request: HttpRequest) -> HttpResponse:
    try:
        return HttpResponse(request.get_signed_cookie("token", salt="demo"))
    except signing.BadSignature:
        return HttpResponse("bad signature", status=400)
    except KeyError:
        return HttpResponse("missing", status=400)


def status(request: HttpRequest) -> JsonResponse:
    from secret_keyring.django import live

    current = live.active()
    return JsonResponse(current.cache.status() if current else {})


urlpatterns = [
    path("login/", login_view),
    path("whoami/", whoami),
    path("signed/set/", set_signed),
    path("signed/get/", get_signed),
    path("status/", status),
]
