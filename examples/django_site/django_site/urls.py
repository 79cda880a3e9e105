"""URLs of the example site."""

from demo import views
from django.urls import path

urlpatterns = [
    path("", views.home),
    path("login/", views.login_view),
    path("whoami/", views.whoami),
    path("signed/", views.signed_cookie),
    path("reset-token/", views.reset_token),
    path("status/", views.status_page),
    path("status.json", views.status_json),
]
