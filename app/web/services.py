"""What the API and the page both do to make a session: new ids, presets applied to a request's
fields, and a new session kept in the store."""

from __future__ import annotations

import secrets
from typing import Any

from app import presets, session
from app.session import Session
from app.store import SessionStore
from app.web.schemas import CreateSession, dataset_of


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def apply_preset(body: CreateSession) -> CreateSession:
    """The body with its preset's fields as the base and the fields given explicitly on top."""
    if body.preset is None:
        return body
    base = presets.get(body.preset).body()
    given = body.model_dump(exclude_unset=True, exclude={"preset"})
    # A field given explicitly also replaces the preset's fields it cannot go with.
    if "dataset" in given:
        base.pop("input", None)
        base.pop("target", None)
    if "input" in given or "target" in given:
        base.pop("dataset", None)
    if "layers" in given:
        base.pop("weights", None)
        base.pop("biases", None)
    return CreateSession.model_validate({**base, **given})


#: The id of the session a visitor is shown before their first action, which is not kept.
UNSAVED = ""


def unsaved_session() -> Session:
    """What a visitor without a session is shown: the default network, not kept (the page keeps
    it at the visitor's first action), its id :data:`UNSAVED`."""
    return session.create(UNSAVED, **_fields(CreateSession()))


def create_session(store: SessionStore, body: CreateSession) -> Session:
    """Build and keep a new session from the API's fields (a preset applied first)."""
    return create_from_fields(store, _fields(body))


def _fields(body: CreateSession) -> dict[str, Any]:
    """The keyword arguments of :func:`app.session.create` that ``body`` asks for."""
    body = apply_preset(body)
    return {
        "layers": body.layers,
        "activation": body.activation,
        "output_activation": body.output_activation,
        "loss": body.loss,
        "learning_rate": body.learning_rate,
        "seed": body.seed,
        "weights": body.weights,
        "biases": body.biases,
        "input": body.input,
        "target": body.target,
        "train_biases": body.train_biases,
        "dataset": dataset_of(body.dataset),
        "mode": body.mode,
    }


def create_from_fields(store: SessionStore, fields: dict[str, Any]) -> Session:
    """Build and keep a new session from the keyword arguments of :func:`app.session.create`
    (a share link's fields, say)."""
    new = session.create(new_session_id(), **fields)
    store.add(new)
    return new


def create_from_preset(store: SessionStore, name: str) -> Session:
    """Build and keep a new session from a preset."""
    new = presets.create_from_preset(new_session_id(), name)
    store.add(new)
    return new
