"""Starting or joining a Ray runtime without surprises: a private one, or a cluster that answers.

``ray.init()`` without an address joins whatever cluster ``/tmp/ray/ray_current_cluster`` names,
even one whose processes died long ago (it then waits for minutes). A local search therefore
starts its own runtime (``address="local"``). A given address is probed first, so a head that
does not answer fails in seconds with one line. Since Ray 2.52, ``ray start --head`` turns on
token authentication when a token exists (``~/.ray/auth_token``); a client must then send it, but
Ray sends it unasked only for ``address="auto"``. We send it for any address where one is
available (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or that file) and the user did not choose
``RAY_AUTH_MODE``; without one, the error says what to set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import ray

from archbench.gpus import environment

PROBE_SECONDS = 5.0
# Attempts (about a second each) ray.init makes to reach the head once the port answered; Ray's
# default of 20 spends 20 s repeating an authentication failure.
CONNECT_ATTEMPTS = "5"
CONNECT_ATTEMPTS_ENV = "RAY_gcs_server_port_wait_time_s"
AUTH_MODE = "RAY_AUTH_MODE"
TOKEN_HINT = (
    "the cluster wants its token: on the head run `ray get-auth-token`, then here "
    "export RAY_AUTH_MODE=token RAY_AUTH_TOKEN=<that token>"
)


@contextlib.contextmanager
def ray_runtime(address: str | None) -> Iterator[None]:
    """Connects to Ray (``address``), or starts a local runtime, unless one is already up.

    The one place where a search starts or joins Ray (``ray.init``).

    Without an address the runtime is this process's own, never a cluster another ``ray start``
    left behind. Only a runtime this function started or joined is shut down afterwards.

    Raises:
        ValueError: in one line, when no cluster answers at ``address`` or it wants a token.
    """
    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        ray.init(address="local", include_dashboard=False, **options)
    else:
        _join_cluster(address, options)
    try:
        yield
    finally:
        ray.shutdown()


def _join_cluster(address: str, options: dict[str, Any]) -> None:
    """Connects to the Ray cluster at ``address`` (``HOST:PORT``, ``auto`` or ``ray://...``).

    Raises:
        ValueError: in one line, when no cluster answers there or it refuses our token.
    """
    host, port = head_of(address)
    probe(host, port)
    send_token_if_available()
    attempts = None if CONNECT_ATTEMPTS_ENV in os.environ else CONNECT_ATTEMPTS  # the user's
    with environment(**{CONNECT_ATTEMPTS_ENV: attempts}), _quiet_stderr():
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError) as exc:
            raise ValueError(_connect_error(address, exc)) from None


def head_of(address: str) -> tuple[str, int]:
    """The host and port to probe for ``address``; ``auto`` reads Ray's cluster file.

    Raises:
        ValueError: for an address that is no ``HOST:PORT``, or ``auto`` with no cluster.
    """
    target = address
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            target = canonicalize_bootstrap_address("auto") or ""
        except ConnectionError:
            raise ValueError(
                "ray_address: no Ray cluster started on this machine (`ray start --head`); "
                "pass --ray-address HOST:PORT, or drop it for a local runtime"
            ) from None
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"ray_address: {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379) or auto")
    return host, int(port)


def probe(host: str, port: int) -> None:
    """Raises ValueError in one line unless something accepts connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS):
            return
    except OSError as exc:
        reason = (
            f"no answer within {PROBE_SECONDS:g} s"
            if isinstance(exc, TimeoutError)
            else (exc.strerror or str(exc)).lower()
        )
        raise ValueError(
            f"ray_address: no Ray head answers at {host}:{port} ({reason}); start it with "
            "`ray start --head`, or drop --ray-address for a local runtime"
        ) from None


def send_token_if_available() -> None:
    """Turns on token authentication when a token is at hand and RAY_AUTH_MODE is unset.

    Ray's own check (the one ``ray.init("auto")`` runs) knows every place a token may be.
    Ray releases without token authentication have no such check: nothing to do there.
    """
    if AUTH_MODE in os.environ:
        return
    try:
        from ray._private.authentication import authentication_token_setup as setup
    except ImportError:
        return
    setup_logger = logging.getLogger(setup.__name__)
    level = setup_logger.level
    setup_logger.setLevel(logging.ERROR)  # it warns that token auth is on: that is the point
    try:
        setup.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    finally:
        setup_logger.setLevel(level)


def _connect_error(address: str, exc: BaseException) -> str:
    chain = f"{exc} {exc.__cause__ or ''}"
    if "InvalidAuthToken" in chain or "AuthenticationError" in chain:
        if os.environ.get(AUTH_MODE) == "token":
            return (
                f"ray_address: the cluster at {address} refused our token; set RAY_AUTH_TOKEN "
                "to the output of `ray get-auth-token` on the head"
            )
        return f"ray_address: cannot connect to Ray at {address}: {TOKEN_HINT}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"ray_address: cannot connect to Ray at {address}: {first}"


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Keeps Ray's C++ retry warnings (one per attempt) off the terminal while it connects.

    They are written straight to file descriptor 2, below Python's logging; what they say
    reaches the user through the one-line error instead.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
