"""A session's follow link as the presenter's answers carry it: its path (the state JSON's
``follow_url``), its absolute address and QR code (the page's "Follow link" and presentation mode).

The absolute address starts with ``BACKPROP_PUBLIC_URL`` when it is set (the address students
reach the server by, e.g. behind a proxy), else with the address of the presenter's own request.
"""

from __future__ import annotations

from fastapi import Request

from app import follow
from app.settings import Settings
from app.store import SessionStore
from app.web.deps import get_settings, get_store
from app.web.views.follow import FollowLink
from app.web.views.follow import follow_link as make_link


def follow_path(store: SessionStore, settings: Settings, session_id: str) -> str:
    """``/follow/<follow id>`` of the session (its follow id made, or renewed, if need be)."""
    return f"/follow/{follow.follow_id(store, session_id, settings.session_ttl)}"


def public_url(request: Request, path: str) -> str:
    """The absolute address of ``path`` (``/...``) as students reach it."""
    base = get_settings(request).public_url or str(request.base_url).rstrip("/")
    return base + path


def follow_link(request: Request, session_id: str) -> FollowLink:
    """The session's follow link: path, absolute address and QR code (blocks: run it off the loop)."""
    path = follow_path(get_store(request), get_settings(request), session_id)
    return make_link(path, public_url(request, path))
