"""Follow links: a read-only view of a session under an id of its own.

A lecturer's students follow the lecturer's session live (``/follow/<follow id>``). The follow id is
random (:func:`secrets.token_urlsafe`), so it cannot be worked out from the session's id, and the
session's id cannot be worked out from it: whoever holds a follow link can watch, never write.

Two store records tie them together, in every server process that shares the store:

- ``follow``: follow id → session id, what a follower's request resolves;
- ``follow-of``: session id → its follow id and when it was issued, so a session keeps one follow
  id however many processes ask for it (the first to store it wins; the others read it).

Both live ``ttl`` seconds (the sessions' own time to live) and are renewed by use: once a quarter of
that has passed since they were issued, the next request that asks for the link (the presenter's)
or resolves it (a follower's) stores both again for a fresh ``ttl``. So a link stays valid while its
session is in use and goes, like the session, once nobody uses it.
"""

from __future__ import annotations

import secrets

from app.store import SessionStore

#: follow id → session id.
FOLLOW_RECORD = "follow"
#: session id → "<follow id> <issued at>".
FOLLOWED_RECORD = "follow-of"
#: A link is renewed once this share of its time to live has passed since it was issued.
RENEW_FRACTION = 0.25


def new_follow_id() -> str:
    """A fresh random follow id (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def follow_id(store: SessionStore, session_id: str, ttl: float) -> str:
    """The follow id of ``session_id``: the one it has (renewed when due), else a new one.

    Safe against other processes asking at the same moment: exactly one id is kept per session.
    The caller checks that the session exists; this only manages the records.
    """
    while True:
        raw = store.get_record(FOLLOWED_RECORD, session_id)
        if raw is not None:
            current, issued = _parse(raw)
            if store.clock() - issued >= RENEW_FRACTION * ttl:
                _renew(store, session_id, current, raw, ttl)
            return current
        candidate = new_follow_id()
        store.put_record(FOLLOW_RECORD, candidate, session_id.encode(), ttl)
        if store.put_record(
            FOLLOWED_RECORD, session_id, _value(candidate, store.clock()), ttl, only_if_absent=True
        ):
            return candidate
        # Another process stored its id first: drop ours and use theirs.
        store.delete_record(FOLLOW_RECORD, candidate, expected=session_id.encode())


def session_of(store: SessionStore, follow: str, ttl: float) -> str | None:
    """The session that ``follow`` is the follow id of, or None (unknown, expired, or taken back);
    the link is renewed when due."""
    if not 1 <= len(follow) <= 64:
        return None
    found = store.get_record(FOLLOW_RECORD, follow)
    if found is None:
        return None
    session_id = found.decode()
    raw = store.get_record(FOLLOWED_RECORD, session_id)
    if raw is None or _parse(raw)[0] != follow:
        return None  # the session's link has changed (or gone): this one no longer opens it
    if store.clock() - _parse(raw)[1] >= RENEW_FRACTION * ttl:
        _renew(store, session_id, follow, raw, ttl)
    return session_id


def _renew(store: SessionStore, session_id: str, follow: str, raw: bytes, ttl: float) -> None:
    """Store both records again for a fresh ``ttl`` (unless another process just did)."""
    if store.replace_record(FOLLOWED_RECORD, session_id, raw, _value(follow, store.clock()), ttl):
        store.put_record(FOLLOW_RECORD, follow, session_id.encode(), ttl)


def _value(follow: str, issued: float) -> bytes:
    return f"{follow} {issued!r}".encode()


def _parse(raw: bytes) -> tuple[str, float]:
    follow, _, issued = raw.decode().partition(" ")
    return follow, float(issued)
