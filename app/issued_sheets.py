"""Sheets as they are handed out: their codes, the tokens of their keys, where they are kept, and
the server's secret that signs both.

A sheet is known by its code, an HMAC of its spec under the server's secret: the same spec has the
same code, and the code tells nothing of the seed or the answers. The token that opens its key is
another HMAC, of the code. Sheets are kept like sessions, in the session store's shared records
(same store, same expiry, so every process and host finds them); only the small spec is kept and
everything else is rebuilt from it. The secret is ``BACKPROP_SECRET`` when set, else one generated
once and kept in the store, so every process sharing the store signs alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.settings import SettingsError
from app.sheets import Sheet, SheetNotFoundError, SheetSpec, build
from app.store import SessionStore

# --------------------------------------------------------------------------------------------
# Codes and key tokens
# --------------------------------------------------------------------------------------------

#: Crockford's base 32: no I, L, O, U, so a code copied by hand is read back the same.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_CODE_CLEAN = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def _hmac(secret: bytes, purpose: bytes, message: bytes) -> bytes:
    return hmac.new(secret, purpose + b"\0" + message, hashlib.sha256).digest()


def sheet_code(secret: bytes, spec: SheetSpec) -> str:
    """12 characters of Crockford base 32 in groups of four ("7KQ2-MX9D-3FHA"): 60 bits of an HMAC
    of the spec, so the same spec has the same code and the code tells nothing about the seed."""
    number = int.from_bytes(_hmac(secret, b"sheet-code", spec.canonical())[:8], "big") >> 4
    chars = "".join(CODE_ALPHABET[(number >> (5 * k)) & 31] for k in reversed(range(CODE_LENGTH)))
    return "-".join(chars[k : k + 4] for k in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str | None:
    """A code as typed ("7kq2 mx9d 3fha", "7KQ2MX9D3FHA", O for 0) in its written form, or None."""
    compact = text.strip().upper().translate(_CODE_CLEAN)
    if len(compact) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in compact):
        return None
    return "-".join(compact[k : k + 4] for k in range(0, CODE_LENGTH, 4))


def key_token(secret: bytes, code: str) -> str:
    """The token that opens a sheet's key: an HMAC of the code (URL-safe, 43 characters)."""
    return base64.urlsafe_b64encode(_hmac(secret, b"sheet-key", code.encode())).decode().rstrip("=")


# --------------------------------------------------------------------------------------------
# Where sheets are kept, and the secret
# --------------------------------------------------------------------------------------------

#: The kinds of record (app/store/base.py) sheets use: one per sheet, by code; the secret.
SHEET_RECORD = "sheet"
SECRET_RECORD = "secret"
#: How long a generated secret is kept (it is read, never renewed, so: long).
SECRET_SECONDS = 100 * 365 * 24 * 3600.0
MIN_SECRET_LENGTH = 16


def spec_to_bytes(spec: SheetSpec) -> bytes:
    return json.dumps([spec.preset, spec.seed, spec.blanks, list(spec.phases)]).encode()


def spec_from_bytes(raw: bytes) -> SheetSpec:
    preset, seed, blanks, phases = json.loads(raw)
    return SheetSpec(preset, seed, blanks, tuple(phases))


class SheetRecords:
    """Sheets in the session store's records, expiring with the sessions' TTL (renewed on use)."""

    def __init__(self, store: SessionStore, ttl: float) -> None:
        self.store = store
        self.ttl = ttl

    def put(self, code: str, spec: SheetSpec) -> None:
        """Keep (or refresh) a sheet."""
        self.store.put_record(SHEET_RECORD, code, spec_to_bytes(spec), self.ttl)

    def get(self, code: str) -> SheetSpec | None:
        """The sheet's spec, its life renewed; None if there is none or it expired."""
        raw = self.store.get_record(SHEET_RECORD, code)
        if raw is None:
            return None
        self.store.replace_record(SHEET_RECORD, code, raw, raw, self.ttl)
        return spec_from_bytes(raw)


def load_secret(store: SessionStore, env: Mapping[str, str] | None = None) -> bytes:
    """The server's secret: ``BACKPROP_SECRET`` if set (at least 16 characters); else one generated
    once and kept in the store (of two processes generating at once, the first one kept wins)."""
    env = os.environ if env is None else env
    given = env.get("BACKPROP_SECRET", "")
    if given:
        if len(given) < MIN_SECRET_LENGTH:
            raise SettingsError(f"BACKPROP_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        return given.encode()
    store.put_record(SECRET_RECORD, "sheets", secrets.token_bytes(32), SECRET_SECONDS, only_if_absent=True)
    kept = store.get_record(SECRET_RECORD, "sheets")
    if kept is None or len(kept) != 32:
        raise SettingsError("the store holds no usable secret for sheets: set BACKPROP_SECRET")
    return kept


@dataclass(frozen=True)
class Issued:
    """A sheet as made: its code, the token of its key, and the sheet."""

    code: str
    key_token: str
    sheet: Sheet


class Sheets:
    """Making, finding and authorising sheets: where they are kept plus the server's secret."""

    def __init__(self, records: SheetRecords, secret: Callable[[], bytes]) -> None:
        self.records = records
        self._secret_source = secret
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, store: SessionStore, ttl: float, env: Mapping[str, str] | None = None) -> Sheets:
        """Sheets kept in ``store`` with the sessions' expiry; the secret is read on first use, so
        building the app touches nothing."""
        return cls(SheetRecords(store, ttl), lambda: load_secret(store, env))

    @property
    def secret(self) -> bytes:
        with self._lock:
            if self._secret is None:
                self._secret = self._secret_source()
            return self._secret

    def create(self, spec: SheetSpec) -> Issued:
        """Make (or make again: same spec, same code) and keep a sheet."""
        sheet = build(spec)
        code = sheet_code(self.secret, spec)
        self.records.put(code, spec)
        return Issued(code, key_token(self.secret, code), sheet)

    def find(self, code_text: str) -> tuple[str, Sheet]:
        """The code in its written form and its sheet; SheetNotFoundError if there is none."""
        code = normalize_code(code_text)
        spec = self.records.get(code) if code is not None else None
        if code is None or spec is None:
            raise SheetNotFoundError(code_text.strip()[:40])
        return code, build(spec)

    def key_token(self, code: str) -> str:
        return key_token(self.secret, code)

    def authorised(self, code: str, token: str | None) -> bool:
        """Whether ``token`` opens the key of sheet ``code`` (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.key_token(code).encode())
