"""Who is asking, and how many sessions they may make: the client's address (named by a proxy
only when the proxy is one the settings trust) and the limit on new sessions per address.

Every new session takes room in the store, so a stranger making sessions in a loop could fill it
(the store then refuses new ones, but never evicts one in use: app/store/base.py). The limit is
``BACKPROP_RATE_LIMIT`` per client address, counted in a moving window by the ``limits`` library:
in this process's memory with the memory and SQLite stores, in Redis with the Redis store (so every
process and host counts together). A class behind one school's address shares one count, hence the
generous default. Past it: 429 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import StoreBusyError, TooManyRequestsError
from app.settings import Network, Settings

#: What the limiter counts, in its storage's keys.
NAMESPACE = "new-session"
#: The prefix of the limiter's keys in Redis (the store's own are ``backprop:…``).
REDIS_PREFIX = "backprop:limits"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(text: str, proxies: Iterable[Network]) -> bool:
    found = _address(text)
    return found is not None and any(found in network for network in proxies)


def _node(value: str) -> str:
    """The address of a ``Forwarded`` node: ``"[2001:db8::1]:4711"`` → ``2001:db8::1``,
    ``192.0.2.1:80`` → ``192.0.2.1``; anything else (``unknown``, ``_hidden``) as it is."""
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def forwarded_chain(request: Request) -> list[str]:
    """The addresses a request passed through as its proxies say, client first: ``Forwarded``'s
    ``for=`` (RFC 7239), else ``X-Forwarded-For``."""
    forwarded = ",".join(request.headers.getlist("forwarded"))
    if forwarded:
        chain = []
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.partition("=")
                if name.strip().lower() == "for":
                    chain.append(_node(value))
        return chain
    listed = ",".join(request.headers.getlist("x-forwarded-for"))
    return [hop.strip() for hop in listed.split(",") if hop.strip()]


def client_address(request: Request, proxies: tuple[Network, ...]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
    address in the forwarded chain that is not a trusted proxy (each trusted one passed the
    request on from the one before it; an untrusted hop may have written anything before it)."""
    peer = request.client.host if request.client is not None else ""
    if not _trusted(peer, proxies):
        return peer
    chain = forwarded_chain(request)
    for hop in reversed(chain):
        if not _trusted(hop, proxies):
            return hop
    return chain[0] if chain else peer


class NewSessions:
    """The limit on new sessions per client address."""

    def __init__(self, rate: str, storage: str = "memory://") -> None:
        self.rate: RateLimitItem = parse(rate)
        options = {"key_prefix": REDIS_PREFIX} if storage.startswith(("redis://", "rediss://")) else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage, wrap_exceptions=True, **options))

    @classmethod
    def of(cls, settings: Settings) -> NewSessions | None:
        """The limit the settings ask for (None: no limit), counted where their store is shared."""
        if not settings.rate_limit:
            return None
        return cls(settings.rate_limit, settings.redis_url or "memory://")

    def take(self, address: str) -> None:
        """Count one new session for ``address``; TooManyRequestsError (429) past the limit."""
        try:
            if self._limiter.hit(self.rate, NAMESPACE, address):
                return
            stats = self._limiter.get_window_stats(self.rate, NAMESPACE, address)
        except StorageError as exc:
            raise StoreBusyError(f"Redis cannot be reached to count new sessions: {exc}") from exc
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequestsError(
            f"too many new sessions from your address (at most {self.rate}): try again in {wait} s", wait
        )


def check_new_session(request: Request) -> None:
    """Count a new session against the client's address (a dependency of the routes that make
    one); TooManyRequestsError past the limit."""
    limit: NewSessions | None = request.app.state.new_sessions
    if limit is not None:
        settings: Settings = request.app.state.settings
        limit.take(client_address(request, settings.trusted_proxies))


NewSession = Annotated[None, Depends(check_new_session)]
