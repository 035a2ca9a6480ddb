"""The Network tab of the page's panel: what it shows (its context) and its routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.panel import View
from app.session import Session

router = APIRouter(include_in_schema=False)


def context(current: Session, view: View) -> dict[str, Any]:
    """What templates/_network.html needs, added to the page's context when the tab is open."""
    return {}
