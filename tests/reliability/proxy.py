"""A loopback TCP proxy that injects network faults between a client and a real server.

Modes, switchable while connections are open:

* ``pass``: bytes flow both ways untouched;
* ``delay``: every chunk from the server is held back ``delay_seconds`` before it is forwarded (a
  slow backend that still answers);
* ``stall``: connections are accepted and the request is read, but nothing is ever answered (a
  backend that accepts connections and hangs, which connect timeouts do not catch);
* ``swallow``: requests reach the server, its answers are dropped (the server acts on a write, the
  client never learns it did: what a client killed mid-request leaves behind);
* ``reset``: new connections are accepted and closed at once with a TCP reset (a backend whose
  port answers but whose process is gone).

:meth:`drop_reply_once` works in any mode: the next request that matches reaches the server, and
once the server starts answering (it has acted on the request) the client's connection is reset
instead: the lost response a scheduler then retries.

:meth:`cut` switches to ``reset`` and drops every open connection, as a crashed backend would.
Only loopback addresses are used. Every loop waits on sockets with a short timeout and checks a
stop flag, so :meth:`close` ends all threads promptly.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal

Mode = Literal["pass", "delay", "stall", "swallow", "reset"]
_TICK = 0.05


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """Listens on ``127.0.0.1:<port>`` and forwards to ``upstream_port`` on loopback."""

    def __init__(self, upstream_port: int, *, mode: Mode = "pass", delay_seconds: float = 0.0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode: Mode = mode
        self.delay_seconds = delay_seconds
        self.accepted = 0
        self.dropped_replies = 0
        self._drop_request: Callable[[bytes], bool] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(_TICK)
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control --------------------------------------------------------------------------------

    def set_mode(self, mode: Mode, *, delay_seconds: float | None = None) -> None:
        if delay_seconds is not None:
            self.delay_seconds = delay_seconds
        self.mode = mode

    def cut(self) -> None:
        """Refuse new connections (reset) and drop the open ones."""
        self.mode = "reset"
        with self._lock:
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _reset(sock)

    def restore(self) -> None:
        self.mode = "pass"

    def drop_reply_once(self, request_matches: Callable[[bytes], bool]) -> None:
        """Forward the next request whose first bytes satisfy ``request_matches``, then, when
        its answer starts to arrive, reset the client's connection instead of forwarding it."""
        with self._lock:
            self._drop_request = request_matches

    def _claims_drop(self, data: bytes) -> bool:
        with self._lock:
            matches = self._drop_request
            if matches is None or not matches(data):
                return False
            self._drop_request = None  # once
            return True

    @contextlib.contextmanager
    def stalled(self) -> Iterator[None]:
        self.set_mode("stall")
        try:
            yield
        finally:
            self.cut()
            self.restore()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- internals ------------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="fault-proxy")
        self._threads.append(thread)
        thread.start()

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._open.discard(sock)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.mode == "reset":
                _reset(client)
                continue
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        if self.mode == "stall":
            self._stall(client)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(client)
            self._forget(client)
            return
        self._track(server)
        self._pump(client, server)

    def _stall(self, client: socket.socket) -> None:
        client.settimeout(_TICK)
        while not self._stop.is_set() and self.mode == "stall":
            try:
                if not client.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        self._forget(client)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ)
        selector.register(server, selectors.EVENT_READ)
        dropping = False
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=_TICK):
                    source = client if key.fileobj is client else server
                    target = server if source is client else client
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client and not dropping:
                        dropping = self._claims_drop(data)
                    if source is server and dropping:
                        # The server has answered, so it has acted; the client never hears.
                        self.dropped_replies += 1
                        _reset(client)
                        return
                    if source is server:
                        self._hold_back()
                        if self.mode in ("stall", "swallow"):
                            continue  # the answer never arrives
                    target.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            self._forget(client, server)

    def _hold_back(self) -> None:
        if self.mode != "delay" or self.delay_seconds <= 0:
            return
        # The fault itself: the backend is slow. Waits on the stop flag so close() is prompt.
        deadline = time.monotonic() + self.delay_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._stop.wait(min(_TICK, max(0.0, deadline - time.monotonic())))
