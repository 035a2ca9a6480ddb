"""The one form reader: bodies within bounds, numbers and whole numbers as people type them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from app.limits import LEARNING_RATE, VALUE
from app.web.forms import Form, number_field, read_form, whole_number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0", 0),
        (" 42 ", 42),
        ("000123", 123),
        ("9" * 12, 10**12 - 1),
        ("9" * 13, None),
        ("²", None),
        ("1.0", None),
        ("-1", None),
        ("", None),
        (None, None),
        ("١٢", None),
    ],
)
def test_whole_number(text: str | None, number: int | None) -> None:
    assert whole_number(text) == number


@pytest.mark.parametrize(
    ("raw", "bounds", "result"),
    [
        ("0.5", LEARNING_RATE, (0.5, None)),
        (" −0.25 ", VALUE, (-0.25, None)),
        ("", LEARNING_RATE, (None, "η: enter a number")),
        ("fast", LEARNING_RATE, (None, "η: “fast” is not a number")),
        ("inf", VALUE, (None, "η: must be a finite number")),
        ("0", LEARNING_RATE, (None, "η: must lie in (0, 100]")),
        ("2e6", VALUE, (None, "η: must lie in [-1e+06, 1e+06]")),
    ],
)
def test_number_field(raw: str, bounds: object, result: tuple[float | None, str | None]) -> None:
    assert number_field(raw, "η", bounds) == result  # type: ignore[arg-type]


@pytest.fixture
async def reader(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose one route answers with what read_form read (its options: the test's param)."""
    reading: dict[str, Any] = getattr(request, "param", {})
    app = FastAPI()

    @app.post("/")
    async def read(posted: Request) -> dict[str, object]:
        form = await read_form(posted, **reading)
        upload = None if form.upload is None else [form.upload.filename, len(form.upload.data)]
        return {"fields": form.fields, "problem": form.problem, "too_large": form.too_large, "upload": upload}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.anyio
async def test_read_form_reads_text_fields_and_leaves_stray_files(reader: httpx.AsyncClient) -> None:
    answer = (await reader.post("/", data={"a": "1"}, files={"f": ("f.txt", b"abc")})).json()
    assert answer == {"fields": {"a": "1"}, "problem": None, "too_large": False, "upload": None}


@pytest.mark.anyio
@pytest.mark.parametrize("reader", [{"upload": "f", "max_upload_bytes": 4}], indirect=True)
async def test_read_form_reads_the_file_it_is_asked_for_up_to_one_byte_over(
    reader: httpx.AsyncClient,
) -> None:
    answer = (await reader.post("/", data={"a": "1"}, files={"f": ("f.json", b"0123456789")})).json()
    assert answer["upload"] == ["f.json", 5]


@pytest.mark.anyio
@pytest.mark.parametrize("reader", [{"max_bytes": 1024}], indirect=True)
async def test_read_form_refuses_a_large_body_unread_and_a_malformed_one(reader: httpx.AsyncClient) -> None:
    large = (await reader.post("/", data={"a": "x" * 2000})).json()
    assert large["too_large"] and large["problem"] == "the form is larger than 1 KB"
    broken = await reader.post("/", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"})
    assert broken.json()["problem"] == "the form could not be read (Missing boundary in multipart.)"


def test_require_turns_a_problem_into_413_or_422() -> None:
    assert Form({"a": "1"}).require().fields == {"a": "1"}
    with pytest.raises(HTTPException, match="larger than") as large:
        Form(too_large=True).require()
    with pytest.raises(HTTPException, match="could not be read") as broken:
        Form(unreadable="bad").require()
    assert (large.value.status_code, broken.value.status_code) == (413, 422)
