"""What can go wrong, each named for what happened.

Every refusal the app makes is one of these exceptions, with a message that says what is wrong in
words a user can act on. The core raises them and knows nothing of HTTP; the web layer maps each
to its status once (``app/web/errors.py``). Standard library only, so that every layer may raise
them, the engine included.
"""

from __future__ import annotations


class InvalidInputError(ValueError):
    """A value that cannot be used (a shape, a number out of range, an unknown name)."""


class NotASessionDocumentError(InvalidInputError):
    """A document or an uploaded file that does not hold a session this server can open."""


class BadShareLinkError(InvalidInputError):
    """A share link that does not open: cut short, changed, or of another format."""


class TooBigToShareError(InvalidInputError):
    """A session too big for a share link (it can still be exported as a file)."""


class PhaseError(Exception):
    """A step asked for out of order; the message says which step comes first."""


class NothingComputedError(PhaseError):
    """A number that the current phase has not computed yet; the message says what to run first."""


class DivergenceError(Exception):
    """An update that would leave a parameter non-finite or beyond ±MAX_ABS_VALUE."""


class NotKeptError(LookupError):
    """A history step that is not (or no longer) kept."""


class SessionNotFoundError(LookupError):
    """No session with that id: never issued, deleted, expired or evicted."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"no session {session_id!r} (it may have expired or been deleted)")
        self.session_id = session_id


class NoTrainingRunError(LookupError):
    """A session that has never had a background training run."""


class BusyError(RuntimeError):
    """The server cannot take the request now, though it may in a moment: answered 503 with a
    ``Retry-After`` of ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreBusyError(BusyError):
    """The store could not complete the request now (locked by another process); try again."""


class StoreFullError(BusyError):
    """No room for a new session: the store is full and every session in it is in recent use."""


class TooManyRequestsError(BusyError):
    """One client has asked for too much lately (new sessions); it may again after ``retry_after``."""


class TrainingBusyError(BusyError):
    """Every training process is busy (or one has just stopped); try again."""
