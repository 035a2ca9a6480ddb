"""Settings, read once from the environment; every one has an embedded default."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

StoreKind = Literal["sqlite", "memory", "redis"]
LogFormat = Literal["text", "json"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: A rate as ``limits`` reads one: a count per period (``120/minute``, ``10 per second``, ``1000/hour``).
_RATE = re.compile(r"\s*[0-9]+\s*(/|per)\s*([0-9]+\s*)?(second|minute|hour|day|month|year)s?\s*", re.I)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/backprop-viz``, else ``~/.local/share/backprop-viz``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "backprop-viz"


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


def _number(env: dict[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _whole(env: dict[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit():
        raise SettingsError(f"{name}={raw!r} is not a whole number")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={raw!r} must lie in {minimum}..{maximum}")
    return value


_SWITCH = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _switch(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = _SWITCH.get(raw.strip().lower())
    if value is None:
        raise SettingsError(f"{name}={raw!r}: use 1 or 0 (true/false, yes/no, on/off)")
    return value


#: An origin as browsers send it: scheme, host and maybe a port; no path, no trailing slash.
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")
#: A source of the CSP frame-ancestors directive: 'self', or a scheme and host (whose first label
#: may be *, for every subdomain) with maybe a port.
_FRAME_SOURCE = re.compile(r"'self'|https?://(\*\.)?[a-z0-9.-]+(:([0-9]{1,5}|\*))?")


def _origins(env: dict[str, str]) -> tuple[str, ...]:
    """BACKPROP_ALLOWED_ORIGINS: comma-separated origins, e.g. ``https://lms.example.edu``."""
    raw = env.get("BACKPROP_ALLOWED_ORIGINS", "")
    origins = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                f"BACKPROP_ALLOWED_ORIGINS: {origin!r} is not an origin; write each as a browser sends "
                "it, scheme://host[:port] with no path (e.g. https://lms.example.edu), comma-separated"
            )
    return origins


def _frame_ancestors(env: dict[str, str]) -> tuple[str, ...]:
    """BACKPROP_FRAME_ANCESTORS: who may embed the pages, as CSP sources, comma- or space-separated."""
    raw = env.get("BACKPROP_FRAME_ANCESTORS", "")
    sources = tuple(part.lower() for part in re.split(r"[\s,]+", raw) if part)
    for source in sources:
        if not _FRAME_SOURCE.fullmatch(source):
            raise SettingsError(
                f"BACKPROP_FRAME_ANCESTORS: {source!r} is not a source this server accepts: use "
                "'self' or scheme://host[:port] (the host may start with *. for every subdomain)"
            )
    return sources


def _redis_url(raw: str) -> str:
    """``redis://[user:password@]host[:port][/db]`` (``rediss://`` for TLS), checked for its form."""
    parts = urlsplit(raw)
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise SettingsError(f"BACKPROP_STORE={raw!r}: the port is not a number from 0 to 65535") from None
    database = parts.path.lstrip("/")
    if not parts.hostname or (database and not database.isdigit()) or parts.query or parts.fragment:
        raise SettingsError(f"BACKPROP_STORE={raw!r}: use redis://host:port/db (db a number, default 0)")
    return raw


def _rate(env: dict[str, str], name: str, default: str) -> str:
    """A rate such as ``120/minute``, or "" for none (``0``)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip() == "0":
        return ""
    if not _RATE.fullmatch(raw):
        raise SettingsError(f"{name}={raw!r}: use a count per period, e.g. 120/minute (0: no limit)")
    return raw.strip()


def _networks(env: dict[str, str], name: str) -> tuple[Network, ...]:
    """Addresses and networks (CIDR), separated by commas or spaces."""
    found = []
    for part in re.split(r"[,\s]+", env.get(name, "").strip()):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            message = f"{name}: {part!r} is not an address or a network such as 10.0.0.0/8"
            raise SettingsError(message) from None
    return tuple(found)


def _public_url(env: dict[str, str], name: str) -> str:
    """``http(s)://host[:port][/path]``, without a trailing slash; "" when not set."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: the port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"{name}={raw!r}: use the address people open, e.g. https://backprop.example.org")
    return raw.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Server settings. Environment variables (all optional):

    - ``BACKPROP_STORE``: ``sqlite`` (default; sessions survive a restart), ``memory``, or a Redis
      URL ``redis://host:port/db`` (``rediss://`` for TLS) that several processes and hosts share.
    - ``BACKPROP_DATA_DIR``: where the SQLite file lives (default ``~/.local/share/backprop-viz``).
    - ``BACKPROP_SESSION_TTL``: seconds a session may sit unused before it expires (default 604800, 7 days).
    - ``BACKPROP_MAX_SESSIONS``: most sessions kept; the least recently used go first (default 10000).
    - ``BACKPROP_TRAIN_SECONDS``: longest a background training run may take (default 120).
    - ``BACKPROP_HOST``, ``BACKPROP_PORT``: where ``backprop-viz`` listens (default 127.0.0.1, 8000).
    - ``BACKPROP_WORKERS``: server processes ``backprop-viz`` starts (default 1).
    - ``BACKPROP_METRICS``: serve Prometheus metrics at ``/metrics`` (default 1; 0 turns them off).
    - ``BACKPROP_LOG_FORMAT``: ``text`` (default) or ``json`` (one JSON object a line).
    - ``BACKPROP_TRAIN_SLOTS``: synchronous trainings (``POST .../train``) one server process
      computes at once, each in a process of its own (default 2); more are refused with 503.
    - ``BACKPROP_RATE_LIMIT``: new sessions one client address may make, as a count per period
      (default ``120/minute``: a class behind one school's address; ``0`` turns the limit off).
    - ``BACKPROP_TRUSTED_PROXIES``: addresses or networks (CIDR, comma-separated) of the proxies
      whose ``X-Forwarded-For`` / ``Forwarded`` name the client (default none: the peer is the client).
    - ``BACKPROP_PUBLIC_URL``: the address students open (``https://host[:port][/path]``), for the
      links the server hands out (follow links and their QR codes, share links); default: the host
      each request was sent to.
    - ``BACKPROP_ALLOWED_ORIGINS``: origins (comma-separated) whose pages may call the API from a
      browser: their writes pass the Origin check and CORS lets their scripts read the answers.
    - ``BACKPROP_FRAME_ANCESTORS``: who may embed the pages in a frame (CSP sources, e.g. an LMS);
      when set, the page's cookie is ``SameSite=None; Secure; Partitioned``. Default: nobody.
    """

    store: StoreKind = "sqlite"
    data_dir: Path = field(default_factory=default_data_dir)
    session_ttl: float = 7 * 24 * 3600.0
    max_sessions: int = 10_000
    train_seconds: float = 120.0
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    metrics: bool = True
    log_format: LogFormat = "text"
    #: The Redis URL when ``store`` is ``redis``.
    redis_url: str = ""
    train_slots: int = 2
    #: New sessions per client address and period ("" for no limit).
    rate_limit: str = "120/minute"
    trusted_proxies: tuple[Network, ...] = ()
    #: Where the app is reached from outside, without a trailing slash ("" to use each request's own).
    public_url: str = ""
    #: Origins allowed to write through the API from a browser (and read its answers, by CORS).
    allowed_origins: tuple[str, ...] = ()
    #: Sources allowed to frame the pages; empty: none (frame-ancestors 'none').
    frame_ancestors: tuple[str, ...] = ()

    @property
    def framed_by_others(self) -> bool:
        """Whether another site may frame the pages (a source besides 'self'): then the page's
        cookie must be sent in a third-party frame."""
        return any(source != "'self'" for source in self.frame_ancestors)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        store = env.get("BACKPROP_STORE", "sqlite") or "sqlite"
        redis_url = _redis_url(store) if store.startswith(("redis://", "rediss://")) else ""
        if store not in ("sqlite", "memory") and not redis_url:
            raise SettingsError(
                f"BACKPROP_STORE={store!r}: choose 'sqlite', 'memory' or redis://host:port/db"
            )
        data_dir = Path(env["BACKPROP_DATA_DIR"]) if env.get("BACKPROP_DATA_DIR") else default_data_dir()
        log_format = env.get("BACKPROP_LOG_FORMAT", "text") or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"BACKPROP_LOG_FORMAT={log_format!r}: choose 'text' or 'json'")
        return cls(
            store="redis" if redis_url else "sqlite" if store == "sqlite" else "memory",
            data_dir=data_dir,
            session_ttl=_number(env, "BACKPROP_SESSION_TTL", 7 * 24 * 3600.0, 1.0),
            max_sessions=int(_number(env, "BACKPROP_MAX_SESSIONS", cls.max_sessions, 1.0)),
            train_seconds=_number(env, "BACKPROP_TRAIN_SECONDS", cls.train_seconds, 1.0),
            host=env.get("BACKPROP_HOST") or cls.host,
            port=_whole(env, "BACKPROP_PORT", cls.port, 1, 65535),
            workers=_whole(env, "BACKPROP_WORKERS", cls.workers, 1, 64),
            metrics=_switch(env, "BACKPROP_METRICS", cls.metrics),
            log_format="json" if log_format == "json" else "text",
            redis_url=redis_url,
            train_slots=_whole(env, "BACKPROP_TRAIN_SLOTS", cls.train_slots, 1, 64),
            rate_limit=_rate(env, "BACKPROP_RATE_LIMIT", cls.rate_limit),
            trusted_proxies=_networks(env, "BACKPROP_TRUSTED_PROXIES"),
            public_url=_public_url(env, "BACKPROP_PUBLIC_URL"),
            allowed_origins=_origins(env),
            frame_ancestors=_frame_ancestors(env),
        )
