"""Sheets as handed out (app/issued_sheets.py): codes, key tokens, keeping them in the store's
records with the sessions' expiry, and the secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import issued_sheets
from app.issued_sheets import SheetRecords, Sheets, key_token, load_secret, normalize_code, sheet_code
from app.settings import SettingsError
from app.sheets import SheetNotFoundError, SheetSpec
from app.store import MemoryStore, SqliteStore
from tests.test_store import FakeClock

SECRET = b"s" * 32


def spec(preset: str = "article", seed: int = 7, blanks: int = 10) -> SheetSpec:
    return SheetSpec.of(preset, seed, blanks)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(ttl=100.0, max_sessions=10)


def test_codes_are_typeable_stable_and_secret_dependent() -> None:
    code = sheet_code(SECRET, spec())
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    assert sheet_code(SECRET, spec()) == code
    assert sheet_code(b"t" * 32, spec()) != code
    assert sheet_code(SECRET, spec(seed=8)) != code
    assert sheet_code(SECRET, spec(blanks=11)) != code


def test_normalize_code_forgives_how_it_was_typed() -> None:
    assert normalize_code("7kq2 mx9d 3fha") == "7KQ2-MX9D-3FHA"
    assert normalize_code("7KQ2MX9D3FHA") == "7KQ2-MX9D-3FHA"
    assert normalize_code("OIL2-MX9D-3FHA") == "0112-MX9D-3FHA"
    for bad in ("", "7KQ2-MX9D", "7KQ2-MX9D-3FHAX", "7KQ2-MX9D-3FHU", "new", "check"):
        assert normalize_code(bad) is None


def test_key_tokens_belong_to_one_code_and_one_secret(store: MemoryStore) -> None:
    token = key_token(SECRET, "7KQ2-MX9D-3FHA")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert key_token(SECRET, "7KQ2-MX9D-3FHB") != token
    assert key_token(b"t" * 32, "7KQ2-MX9D-3FHA") != token
    book = Sheets(SheetRecords(store, 60.0), lambda: SECRET)
    assert book.authorised("7KQ2-MX9D-3FHA", token)
    assert not book.authorised("7KQ2-MX9D-3FHA", None)
    assert not book.authorised("7KQ2-MX9D-3FHA", token[:-1])
    assert not book.authorised("7KQ2-MX9D-3FHB", token)


def test_sheets_create_find_and_make_again(store: MemoryStore) -> None:
    book = Sheets(SheetRecords(store, 60.0), lambda: SECRET)
    issued = book.create(spec())
    again = book.create(spec())
    assert (again.code, again.key_token) == (issued.code, issued.key_token)
    code, sheet = book.find(issued.code.lower().replace("-", " "))
    assert code == issued.code and sheet.spec == spec()
    with pytest.raises(SheetNotFoundError):
        book.find("0000-0000-0000")
    with pytest.raises(SheetNotFoundError):
        book.find("not a code")


def test_a_sheet_expires_when_unused_for_the_ttl_and_lives_on_while_used() -> None:
    clock = FakeClock()
    records = SheetRecords(MemoryStore(ttl=100.0, max_sessions=10, clock=clock), 100.0)
    records.put("A", spec(seed=1))
    clock.advance(60)
    assert records.get("A") == spec(seed=1)  # used: its life starts again
    clock.advance(60)
    assert records.get("A") == spec(seed=1)
    clock.advance(101)
    assert records.get("A") is None


def test_sheets_are_shared_by_every_process_on_one_store(tmp_path: Path) -> None:
    """Two stores on one SQLite file stand for two processes: a sheet made by one is found by the
    other, with the same secret (generated once, kept in the store)."""
    path = tmp_path / "s.sqlite3"
    first, second = (
        SqliteStore(path, ttl=100.0, max_sessions=10),
        SqliteStore(path, ttl=100.0, max_sessions=10),
    )
    try:
        issued = Sheets.open(first, 100.0, {}).create(spec())
        other = Sheets.open(second, 100.0, {})
        code, sheet = other.find(issued.code)
        assert sheet.spec == spec() and other.key_token(code) == issued.key_token
    finally:
        first.close()
        second.close()


def test_secret_from_the_environment(store: MemoryStore) -> None:
    assert load_secret(store, {"BACKPROP_SECRET": "x" * 16}) == b"x" * 16
    with pytest.raises(SettingsError, match="at least 16 characters"):
        load_secret(store, {"BACKPROP_SECRET": "short"})


def test_a_generated_secret_is_made_once_per_store(store: MemoryStore) -> None:
    first = load_secret(store, {})
    assert len(first) == 32 and load_secret(store, {}) == first
    assert load_secret(MemoryStore(ttl=100.0, max_sessions=10), {}) != first


def test_sheets_open_reads_nothing_until_a_secret_is_needed(store: MemoryStore) -> None:
    book = Sheets.open(store, 100.0, {})
    assert store.get_record(issued_sheets.SECRET_RECORD, "sheets") is None
    book.create(spec())
    assert store.get_record(issued_sheets.SECRET_RECORD, "sheets") is not None
