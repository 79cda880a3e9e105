"""The Vault session's record of the server's ``Date`` header, which the rotation's interval
guard takes as "now". No server: requests' own hook dispatch is given the answers a server
would send, in the threads that would receive them."""

from __future__ import annotations

import threading

import requests
from requests.hooks import dispatch_hook

from secret_keyring.providers.vault import VaultProvider

ENVIRON = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "not-a-real-token"}


def answer(date: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    if date is not None:
        response.headers["Date"] = date
    return response


def test_each_thread_sees_the_date_of_its_own_last_answer() -> None:
    """The management command rotates with the provider the running project reads from; a
    background refresh in another thread must not hand the rotation its answer's date."""
    provider = VaultProvider("secret", "app", environ=ENVIRON)
    hooks = provider.session.client().session.hooks  # token auth: no request is made
    dispatch_hook("response", hooks, answer("Tue, 15 Nov 1994 08:12:31 GMT"))
    seen: list[str | None] = []

    def refresh_thread() -> None:
        dispatch_hook("response", hooks, answer("Wed, 16 Nov 1994 08:12:31 GMT"))
        seen.append(provider.session.response_date())

    thread = threading.Thread(target=refresh_thread)
    thread.start()
    thread.join()

    assert seen == ["Wed, 16 Nov 1994 08:12:31 GMT"]
    assert provider.session.response_date() == "Tue, 15 Nov 1994 08:12:31 GMT"


def test_the_hook_is_installed_once_and_an_answer_without_a_date_clears_it() -> None:
    provider = VaultProvider("secret", "app", environ=ENVIRON)
    client = provider.session.client()
    provider.session.client()
    assert len(client.session.hooks["response"]) == 1
    dispatch_hook("response", client.session.hooks, answer("Tue, 15 Nov 1994 08:12:31 GMT"))
    dispatch_hook("response", client.session.hooks, answer(None))
    assert provider.session.response_date() is None


def test_a_client_passed_in_gets_no_hook() -> None:
    """A client passed in may serve many sessions: each would add a hook it never removes.
    The rotation then takes "now" from the local clock (the documented fallback)."""
    import hvac

    shared = hvac.Client(url="http://127.0.0.1:8200", token="t")
    for _ in range(3):
        VaultProvider("secret", "app", environ=ENVIRON, client=shared).session.client()
    assert shared.session.hooks["response"] == []
