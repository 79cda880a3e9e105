"""The authenticated Vault/OpenBao session that the KV reader and the rotation share.

A [VaultSession][secret_keyring.providers.vault.session.VaultSession] owns everything between
"call this hvac method" and the server: connection settings (resolved once from options and the
environment), the hvac client, failover across an HA address list, login with the configured
auth method (the table in ``providers.vault.auth``), token
renewal, one re-login after a token turned out expired or revoked, and error translation (see
[translate_error][secret_keyring.providers.vault.errors.translate_error]). It also remembers,
per thread, the server's ``Date`` header of the last answer (``response_date()``): the rotation's
interval guard takes "now" from the server that wrote the version, not from the local clock.

A token obtained by a login is renewed once two thirds of its TTL have passed while it is
renewable, and replaced by a new login when it is not. With a comma-separated list of addresses
(an HA cluster without a load balancer), a refused connection, a timeout or a sealed node moves
on to the next address.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from secret_keyring._record import Record
from secret_keyring.errors import (
    ConfigurationError,
    SecretKeyringError,
    SourceError,
    clears_locals,
)
from secret_keyring.providers.base import require_extra
from secret_keyring.providers.vault.auth import Login, check_auth
from secret_keyring.providers.vault.errors import KvPath, Where, is_failover, translate_error
from secret_keyring.providers.vault.settings import (
    ConnectionOptions,
    VaultSettings,
    cli_token,
    resolve_settings,
)

if TYPE_CHECKING:
    import hvac

__all__ = ["RENEW_AFTER", "VaultSession"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A login token is renewed once this fraction of its TTL has passed.
RENEW_AFTER: Final = 2.0 / 3.0
_BAD_REQUEST: Final = 400
_UNAUTHORIZED: Final = 401
_FORBIDDEN: Final = 403


class _Lease(Record):
    """A login token's lifetime, measured on the session's clock."""

    obtained_at: float
    ttl: float  # seconds; 0 means it does not expire
    renewable: bool


class VaultSession:
    """An authenticated connection to one Vault/OpenBao server or HA cluster.

    Args:
        kv: the secret this session serves, named in error messages and policies' hints.
        login: the auth method and what it needs besides credentials (its ``source`` is the
            redacted source, for messages).
        connection: URL options and arguments for
            [resolve_settings][secret_keyring.providers.vault.settings.resolve_settings]
            (``addr``, ``namespace``, ``cacert``, ``capath``, ``client_cert``, ``client_key``,
            ``timeout``).
        environ: the environment to read (default ``os.environ``).
        client: an hvac client to use instead of building one (its token is used for
            ``auth=token``).
        clock: monotonic clock, in seconds, used for token renewal.

    Raises:
        ConfigurationError: an unknown auth method, a missing role or client certificate, or a
            malformed ``VAULT_*`` variable.
    """

    def __init__(
        self,
        kv: KvPath,
        login: Login,
        *,
        connection: ConnectionOptions | None = None,
        environ: Mapping[str, str] | None = None,
        client: hvac.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kv = kv
        self.source = source = login.source
        method = check_auth(login.method, login.role, source)
        self.auth = auth = login.method
        self.login_options = login
        self._environ = environ
        self._clock = clock
        #: Connection settings, resolved once from the options and the environment.
        self.settings: VaultSettings = resolve_settings(**(connection or {}), environ=self._env())
        if method.needs_client_cert and self.settings.client_cert is None:
            raise ConfigurationError(
                f"{source}: auth={auth} needs a client certificate; set VAULT_CLIENT_CERT and "
                "VAULT_CLIENT_KEY (or ?client_cert= and ?client_key=)",
                source=source,
            )
        self._lock = threading.RLock()
        self._client: hvac.Client | None = client
        self._owns_client = client is None
        self._token: str | None = (client.token or None) if client is not None else None
        self._lease: _Lease | None = None
        self._address_index = 0
        # Per thread: the rotation reads the Date of its own read, never a refresh thread's.
        self._replies = threading.local()

    def describe_as(self, source: str) -> None:
        """Name the secret ``source`` (a redacted URL) in messages from now on."""
        self.source = source
        self.login_options = self.login_options._replace(source=source)

    @property
    def auth_mount(self) -> str:
        """Where the auth method is mounted."""
        return self.login_options.mount

    @property
    def address(self) -> str:
        """The address in use (the first of the list until a failover moves on)."""
        return self.settings.addresses[self._address_index]

    @clears_locals
    def client(self) -> hvac.Client:
        """The authenticated hvac client (logging in or renewing if due).

        Raises:
            SecretKeyringError: the login failed (translated like every other error).
        """
        with self._lock:
            return self._ready_client()

    @clears_locals
    def run(
        self,
        operation: Callable[[hvac.Client], T],
        *,
        action: str = "read",
        idempotent: bool = True,
    ) -> T:
        """Call ``operation(client)`` with this session's authentication and error handling.

        The client is logged in (or its token renewed) first; a connection failure or a sealed
        node moves on to the next address (a read timeout only when ``idempotent``); a 403 from
        an expired or revoked token logs in again once and retries. Errors come out translated,
        with ``status``, ``action``, ``never_sent`` and ``conflict`` recorded on them.

        Args:
            operation: receives the hvac client; its result is returned.
            action: what the operation does, for messages (``"read"``, ``"write"``...).
            idempotent: whether retrying on another address after a read timeout is safe.

        Raises:
            SecretKeyringError: translated by
                [translate_error][secret_keyring.providers.vault.errors.translate_error].
        """
        with self._lock:
            self._replies.date = None  # a failed call must not leave an older answer's date
            retried = False
            while True:
                client = self._ready_client()
                try:
                    return self._call(client, operation, action=action, idempotent=idempotent)
                except SourceError as exc:
                    if exc.status != _FORBIDDEN or retried or not self._token_is_dead(client):
                        raise
                    retried = True
                    logger.info(
                        "secret_keyring: %s: the Vault token expired or was revoked; "
                        "logging in again (auth=%s)",
                        self.source,
                        self.auth,
                    )
                    self._login(client, replacing=True)

    def response_date(self) -> str | None:
        """The ``Date`` header of the last answer this thread received in :meth:`run` (the
        last request of it: a login before a read answers first), or ``None`` when there was
        none or the server sent no ``Date``. Raw text: the caller parses it."""
        date = getattr(self._replies, "date", None)
        return date if isinstance(date, str) else None

    def where(self) -> Where:
        """What a message about this session's secret names."""
        return Where(
            address=self.address,
            kv=self.kv,
            auth=self.auth,
            auth_mount=self.auth_mount,
            timeout=self.settings.timeout,
            source=self.source,
        )

    def translate(self, exc: BaseException, action: str) -> SecretKeyringError:
        """``exc`` as this library's error, naming this session's secret."""
        return translate_error(exc, self.where(), action)

    def unexpected(self, action: str, what: str) -> SourceError:
        """The error for an answer that is not what a KV engine sends."""
        return SourceError(
            f"{self.where().location()}: unexpected answer to {action}: {what}; is this a KV "
            f"v{self.kv.kv_version} mount?",
            source=self.source,
        )

    # -- fork safety ----------------------------------------------------------------------------

    def _after_fork(self) -> None:
        """Run in a forked child by the owning provider: new lock, no shared connections."""
        self._lock = threading.RLock()
        self._replies = threading.local()
        client = self._client
        if client is None:
            return
        if self._owns_client:
            # A new client (and connection pool) is built on the next request; the token and
            # its lease stay valid in the child, so it does not log in again.
            self._client = None
        else:
            client.session = _session_for_child(client.session)

    # -- requests with failover -----------------------------------------------------------------

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _call(
        self,
        client: hvac.Client,
        operation: Callable[[hvac.Client], T],
        *,
        action: str,
        idempotent: bool = True,
    ) -> T:
        """Run ``operation`` on any address; errors come out translated."""
        try:
            return self._on_any_address(client, operation, idempotent=idempotent)
        except SecretKeyringError:
            raise  # an operation may raise ours; it needs no translation
        except Exception as exc:
            raise self.translate(exc, action) from exc

    def _on_any_address(
        self, client: hvac.Client, operation: Callable[[hvac.Client], T], *, idempotent: bool
    ) -> T:
        """Run ``operation``, moving to the next address on a connection failure or 503."""
        addresses = self.settings.addresses
        for attempt in range(len(addresses)):
            try:
                return operation(client)
            except Exception as exc:
                if not is_failover(exc, idempotent=idempotent) or attempt == len(addresses) - 1:
                    raise
                failed = self.address
                self._address_index = (self._address_index + 1) % len(addresses)
                client.url = self.address
                logger.warning(
                    "secret_keyring: %s: %s failed (%s); trying %s",
                    self.source,
                    failed,
                    type(exc).__name__,
                    self.address,
                )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _ready_client(self) -> hvac.Client:
        client = self._client
        if client is None:
            client = self._client = self._build_client()
            self._watch_dates(client)
        if not self._token:
            self._login(client)
        else:
            self._renew_if_due(client)
        return client

    def _build_client(self) -> hvac.Client:
        hvac_module = require_extra("hvac", "vault")
        settings = self.settings
        options: dict[str, Any] = {
            "url": self.address,
            # Explicit values everywhere: hvac would otherwise read VAULT_* from os.environ
            # and ~/.vault-token on its own, bypassing ``environ`` and our checks.
            "token": self._token or "",
            "cert": settings.client_cert or (),
            "verify": settings.verify,
            "timeout": settings.timeout,
            "namespace": settings.namespace,
        }
        client: hvac.Client = hvac_module.Client(**options)
        return client

    def _watch_dates(self, client: hvac.Client) -> None:
        """Have ``client``'s requests session report each answer's ``Date`` to this session.

        hvac's JSON adapter returns the decoded body and drops the headers, so a response hook
        is the one place that sees them. Only on a client this session built: a client passed in
        may serve many sessions, and each would add a hook it never removes (the rotation then
        falls back to the local clock). The hook survives the copy a forked child makes of the
        client's session.
        """
        hooks = getattr(getattr(client, "session", None), "hooks", None)
        if not isinstance(hooks, dict):
            return  # an adapter without a requests session: the local clock is used instead
        listeners = hooks.setdefault("response", [])
        if isinstance(listeners, list) and self._note_date not in listeners:
            listeners.append(self._note_date)

    def _note_date(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """requests' response hook (returns ``None``: the response is passed on unchanged)."""
        headers = getattr(response, "headers", None)
        self._replies.date = headers.get("Date") if headers is not None else None

    # -- authentication -------------------------------------------------------------------------

    def _token_is_dead(self, client: hvac.Client) -> bool:
        """After a 403: is the token itself expired or revoked (not merely lacking a policy)?"""
        if self.auth == "token":
            fresh = cli_token(self._env())
            return fresh is not None and fresh != self._token
        try:
            self._call(client, lambda c: c.auth.token.lookup_self(), action="look up the token")
        except SourceError as exc:
            return exc.status in (_UNAUTHORIZED, _FORBIDDEN)
        except SecretKeyringError:
            return False  # unknown: report the original 403
        return False

    def _renew_if_due(self, client: hvac.Client) -> None:
        lease = self._lease
        if lease is None or lease.ttl <= 0:
            return  # a token from the environment, or one that never expires
        age = self._clock() - lease.obtained_at
        if age < lease.ttl * RENEW_AFTER:
            return
        if lease.renewable and age < lease.ttl:
            try:
                response = self._call(
                    client, lambda c: c.auth.token.renew_self(), action="renew token"
                )
            except SourceError as exc:
                if exc.status not in (_BAD_REQUEST, _UNAUTHORIZED, _FORBIDDEN):
                    raise
                logger.info(
                    "secret_keyring: %s: token renewal refused (HTTP %s); logging in again",
                    self.source,
                    exc.status,
                )
            else:
                auth = response.get("auth") if isinstance(response, Mapping) else None
                ttl = float((auth or {}).get("lease_duration") or 0)
                # Renewing is worth it only while it still buys time (max TTL not reached).
                if ttl > lease.ttl * (1.0 - RENEW_AFTER):
                    self._lease = _Lease(self._clock(), ttl, bool((auth or {}).get("renewable")))
                    logger.debug("secret_keyring: %s: token renewed for %.0fs", self.source, ttl)
                    return
        self._login(client, replacing=True)

    def _login(self, client: hvac.Client, *, replacing: bool = False) -> None:
        """Obtain a token for ``client`` with the configured auth method."""
        if self.auth == "token":
            token = self._token if self._token and not replacing else None
            token = token or cli_token(self._env())
            if not token:
                raise ConfigurationError(
                    f"{self.source}: no Vault token; set VAULT_TOKEN (or BAO_TOKEN), log in with "
                    "the CLI (~/.vault-token), or choose an auth method with ?auth=",
                    source=self.source,
                )
            client.token = token
            self._token = token
            self._lease = None
            return
        method = check_auth(self.auth, self.login_options.role, self.source)
        assert method.login is not None  # noqa: S101 - only auth=token has no login call
        # Credentials are read now, at each login: files may have been rotated.
        login = method.login(self.login_options, self._env())
        response = self._call(client, login, action="login")
        auth = response.get("auth") if isinstance(response, Mapping) else None
        token = (auth or {}).get("client_token")
        if not isinstance(auth, Mapping) or not isinstance(token, str) or not token:
            raise self.unexpected("login", "no client token in the login response")
        client.token = token
        self._token = token
        ttl = float(auth.get("lease_duration") or 0)
        renewable = bool(auth.get("renewable"))
        self._lease = _Lease(self._clock(), ttl, renewable)
        logger.info(
            "secret_keyring: %s: logged in to %s with auth=%s at auth/%s (token TTL %s, %s)",
            self.source,
            self.address,
            self.auth,
            self.auth_mount,
            f"{ttl:.0f}s" if ttl else "none",
            "renewable" if renewable else "not renewable",
        )


def _session_for_child(old: Any) -> Any:
    """A copy of a user's ``requests`` session for a forked child: same class, headers, auth,
    hooks, TLS and proxy settings and mounted adapters, but its own connection pools and locks.

    Each ``HTTPAdapter`` is copied with its own attributes (retries, pool sizes, whatever a
    subclass added, such as an SSL context) and rebuilds its pools the way requests does when
    it unpickles one; other adapters hold no pool of ours to replace and are kept.
    """
    requests_module = require_extra("requests", "vault")
    fresh = object.__new__(type(old))
    fresh.__dict__.update(old.__dict__)
    # A new jar (and lock): copying reads the old jar without taking its lock, which a thread
    # of the parent may have held at fork time.
    fresh.cookies = requests_module.cookies.cookiejar_from_dict({})
    fresh.cookies.update(old.cookies)
    fresh.adapters = collections.OrderedDict(
        (prefix, _adapter_for_child(adapter, requests_module))
        for prefix, adapter in old.adapters.items()
    )
    return fresh


def _adapter_for_child(adapter: Any, requests_module: Any) -> Any:
    if not isinstance(adapter, requests_module.adapters.HTTPAdapter):
        return adapter
    fresh = object.__new__(type(adapter))
    fresh.__dict__.update(
        (name, value)
        for name, value in adapter.__dict__.items()
        if name not in ("poolmanager", "proxy_manager")
    )
    # What unpickling does: new pool manager and proxy managers, built by the (sub)class's own
    # init_poolmanager, which finds the attributes copied above.
    fresh.__setstate__(adapter.__getstate__())
    return fresh
