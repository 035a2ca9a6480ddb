"""Settings, read once from the environment; every one has an embedded default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

StoreKind = Literal["sqlite", "memory"]


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


@dataclass(frozen=True)
class Settings:
    """Server settings. Environment variables (all optional):

    - ``BACKPROP_STORE``: ``sqlite`` (default; sessions survive a restart) or ``memory``.
    - ``BACKPROP_DATA_DIR``: where the SQLite file lives (default ``~/.local/share/backprop-viz``).
    - ``BACKPROP_SESSION_TTL``: seconds a session may sit unused before it expires (default 604800, 7 days).
    - ``BACKPROP_MAX_SESSIONS``: most sessions kept; the least recently used go first (default 10000).
    - ``BACKPROP_TRAIN_SECONDS``: longest a background training run may take (default 120).
    """

    store: StoreKind = "sqlite"
    data_dir: Path = field(default_factory=default_data_dir)
    session_ttl: float = 7 * 24 * 3600.0
    max_sessions: int = 10_000
    train_seconds: float = 120.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        store = env.get("BACKPROP_STORE", "sqlite") or "sqlite"
        if store not in ("sqlite", "memory"):
            raise SettingsError(f"BACKPROP_STORE={store!r}: choose 'sqlite' or 'memory'")
        data_dir = Path(env["BACKPROP_DATA_DIR"]) if env.get("BACKPROP_DATA_DIR") else default_data_dir()
        return cls(
            store="sqlite" if store == "sqlite" else "memory",
            data_dir=data_dir,
            session_ttl=_number(env, "BACKPROP_SESSION_TTL", 7 * 24 * 3600.0, 1.0),
            max_sessions=int(_number(env, "BACKPROP_MAX_SESSIONS", cls.max_sessions, 1.0)),
            train_seconds=_number(env, "BACKPROP_TRAIN_SECONDS", cls.train_seconds, 1.0),
        )
