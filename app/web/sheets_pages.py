"""The pages of exercise sheets: make one, print it, read its key, check answers against it.

Plain forms that work without JavaScript: making a sheet POSTs and redirects (303) to its key
page; checking answers POSTs and answers 200 with the marks (422 with a message beside each field
that cannot be read). Routes only: the sheet is app/sheets.py, what the pages show app/sheet_view.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app import presets, sheet_formulas, sheet_view, sheets
from app.notation import bias_symbol, fmt, weight_symbol
from app.sheets import MAX_BLANKS, MAX_SEED, MIN_BLANKS, SHEET_PHASES, Sheet, SheetError, SheetNotFoundError
from app.web.deps import SameOrigin
from app.web.forms import read_form, whole_number
from app.web.sheets_api import SheetsDep
from app.web.templating import environment, html_response

router = APIRouter(include_in_schema=False)

#: What the form to make a sheet starts with.
DEFAULT_BLANKS = 8
PHASE_TITLES = {"forward": "Forward pass", "backward": "Backward pass", "update": "Update"}


def render(template: str, context: Mapping[str, Any], status_code: int = 200) -> Response:
    return html_response(environment.get_template(template).render(context), status_code)


def missing(code: str, status_code: int = 404, message: str | None = None) -> Response:
    return render(
        "sheet_error.html",
        {"title": "No such sheet", "message": message or f"There is no sheet “{code}”: check the code."},
        status_code,
    )


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --------------------------------------------------------------------------------------------
# What the sheet and key pages show
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Given:
    """A number the sheet gives, for the list beside the figure."""

    name: str
    value: str


@dataclass(frozen=True)
class Entry:
    """A blank on the page: its number, its name, and (on the key only) its answer."""

    number: int
    name: sheet_formulas.BlankName
    phase: str


def entries(sheet: Sheet) -> list[Entry]:
    return [
        Entry(k + 1, sheet_formulas.blank_name(sheet.arch, blank), PHASE_TITLES[blank.phase])
        for k, blank in enumerate(sheet.blanks)
    ]


def given_numbers(sheet: Sheet) -> list[list[Given]]:
    """The given numbers in groups: inputs and targets, each weight layer, the biases, η."""
    start, count = sheet.start, len(sheet.arch.layers)
    groups = [
        [Given(f"x{i + 1}", fmt(v)) for i, v in enumerate(start.input)]
        + [Given(f"t{j + 1}", fmt(v)) for j, v in enumerate(start.target)]
    ]
    for l, weights in enumerate(start.params.weights):
        groups.append(
            [
                Given(weight_symbol(l, i, j, count).text, fmt(float(weights[i, j])))
                for i, j in _cells(weights.shape)
            ]
        )
    groups.append(
        [
            Given(bias_symbol(l + 1, j).text, fmt(float(value)))
            for l, biases in enumerate(start.params.biases)
            for j, value in enumerate(biases)
        ]
    )
    groups.append([Given("η", fmt(start.config.learning_rate))])
    return groups


def _cells(shape: tuple[int, ...]) -> list[tuple[int, int]]:
    return [(i, j) for i in range(shape[0]) for j in range(shape[1])]


def sheet_context(request: Request, code: str, sheet: Sheet) -> dict[str, Any]:
    numbers = {blank: k + 1 for k, blank in enumerate(sheet.blanks)}
    preset = presets.get(sheet.spec.preset)
    formulas = sheet_formulas.formulas(sheet)
    return {
        "code": code,
        "sheet": sheet,
        "preset": preset,
        "figure": sheet_view.figure(sheet, numbers),
        "formulas": {
            section: [f for f in formulas if f.section == section]
            for section in dict.fromkeys(f.section for f in formulas)
        },
        "entries": entries(sheet),
        "given": given_numbers(sheet),
        "check_url": f"{base_url(request)}/sheets/check?code={code}",
    }


# --------------------------------------------------------------------------------------------
# Making a sheet
# --------------------------------------------------------------------------------------------


def new_context(
    values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None, submitted: bool = True
) -> dict[str, Any]:
    """The form's context: as submitted (unticked phases stay unticked), or fresh (every phase)."""
    values = values or {}
    return {
        "presets": list(presets.PRESETS.values()),
        "values": {
            "preset": values.get("preset", "article"),
            "seed": values.get("seed", ""),
            "blanks": values.get("blanks", str(DEFAULT_BLANKS)),
        },
        "phases": [
            (phase, PHASE_TITLES[phase], values.get(phase) == "on" if submitted else True)
            for phase in SHEET_PHASES
        ],
        "errors": errors or {},
        "limits": {"min_blanks": MIN_BLANKS, "max_blanks": MAX_BLANKS, "max_seed": MAX_SEED},
    }


@router.get("/sheets/new")
def new_sheet_form(preset: str = "article") -> Response:
    """The form to make a sheet (reached from the Network tab)."""
    chosen = {"preset": preset} if preset in presets.PRESETS else {}
    return render("sheet_new.html", new_context(chosen, submitted=False))


@router.post("/sheets/new")
async def new_sheet(request: Request, book: SheetsDep, _: SameOrigin) -> Response:
    values = (await read_form(request)).require().fields
    errors: dict[str, str] = {}
    preset = values.get("preset", "")
    if preset not in presets.PRESETS:
        errors["preset"] = f"Network: choose one of {', '.join(presets.PRESETS)}"
    seed_text = values.get("seed", "").strip()
    seed = whole_number(seed_text) if seed_text else None
    if seed_text and (seed is None or seed > MAX_SEED):
        errors["seed"] = f"Seed: a whole number from 0 to {MAX_SEED}, or empty for a random one"
    blanks = whole_number(values.get("blanks"))
    if blanks is None or not MIN_BLANKS <= blanks <= MAX_BLANKS:
        errors["blanks"] = f"Blanks: a whole number from {MIN_BLANKS} to {MAX_BLANKS}"
    phases = [phase for phase in SHEET_PHASES if values.get(phase) == "on"]
    if not phases:
        errors["phases"] = "Phases: tick at least one"
    if not errors and blanks is not None:
        try:
            issued = book.create(sheets.SheetSpec.of(preset, seed, blanks, phases))
        except SheetError as exc:
            message = str(exc).removeprefix("blanks: ")
            errors["blanks"] = message[:1].upper() + message[1:]
        else:
            return RedirectResponse(f"/sheets/{issued.code}/key?token={issued.key_token}", status_code=303)
    return render("sheet_new.html", new_context(values, errors), 422)


# --------------------------------------------------------------------------------------------
# Checking answers (before /sheets/{code}, whose pattern would take "check" too)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerField:
    entry: Entry
    #: The form field's name: "a1", "a2", …
    field: str
    value: str
    error: str | None
    #: After marking: "right", "wrong" or "unanswered"; "" before.
    verdict: str


def check_context(
    code_text: str,
    code: str | None,
    sheet: Sheet | None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    verdicts: Mapping[int, str] | None = None,
    code_error: str | None = None,
) -> dict[str, Any]:
    values, errors, verdicts = values or {}, errors or {}, verdicts or {}
    fields = []
    if sheet is not None:
        for entry in entries(sheet):
            name = f"a{entry.number}"
            fields.append(
                AnswerField(
                    entry, name, values.get(name, ""), errors.get(name), verdicts.get(entry.number, "")
                )
            )
    score = sum(v == "right" for v in verdicts.values())
    return {
        "code_text": code_text,
        "code": code,
        "sheet": sheet,
        "fields": fields,
        "code_error": code_error,
        "form_error": bool(errors),
        "marked": bool(verdicts),
        "score": score,
    }


@router.get("/sheets/check")
def check_form(book: SheetsDep, code: str = "") -> Response:
    """Type the sheet's code; with a code, the form for its answers."""
    if not code.strip():
        return render("sheet_check.html", check_context("", None, None))
    try:
        found, sheet = book.find(code)
    except SheetNotFoundError:
        message = f"There is no sheet “{code.strip()[:40]}”: check the code (it is printed on the sheet)."
        return render("sheet_check.html", check_context(code, None, None, code_error=message), 404)
    return render("sheet_check.html", check_context(found, found, sheet))


@router.post("/sheets/check")
async def check_answers(request: Request, book: SheetsDep) -> Response:
    """Mark the answers typed into the form: right or not for each blank, never the answer itself."""
    values = (await read_form(request)).require().fields
    code_text = values.get("code", "")
    try:
        code, sheet = book.find(code_text)
    except SheetNotFoundError:
        message = (
            f"There is no sheet “{code_text.strip()[:40]}”: check the code (it is printed on the sheet)."
        )
        return render("sheet_check.html", check_context(code_text, None, None, code_error=message), 404)
    errors: dict[str, str] = {}
    answers = []
    for number, blank in enumerate(sheet.blanks, start=1):
        text = values.get(f"a{number}", "").strip()
        if not text:
            continue
        try:
            answers.append((blank, sheets.parse_answer(text)))
        except ValueError as exc:
            errors[f"a{number}"] = str(exc)
    if errors:
        return render("sheet_check.html", check_context(code, code, sheet, values, errors), 422)
    marks = sheets.grade(sheet, answers)
    verdicts = {
        number: ("right" if mark.correct else "wrong") if mark.answered else "unanswered"
        for number, mark in enumerate(marks, start=1)
    }
    return render("sheet_check.html", check_context(code, code, sheet, values, verdicts=verdicts))


# --------------------------------------------------------------------------------------------
# The sheet and its key
# --------------------------------------------------------------------------------------------


@router.get("/sheets/{code}")
def sheet_page(code: str, request: Request, book: SheetsDep) -> Response:
    """The printable sheet: the diagram with the given numbers and numbered boxes, the formulas,
    and a box per blank; A4 or Letter, at most two pages."""
    try:
        found, sheet = book.find(code)
    except SheetNotFoundError:
        return missing(code.strip()[:40])
    return render("sheet.html", sheet_context(request, found, sheet))


@router.get("/sheets/{code}/key")
def key_page(code: str, request: Request, book: SheetsDep, token: str = "") -> Response:
    """The answer key with the full working of every blank; the link carries the key token."""
    try:
        found, sheet = book.find(code)
    except SheetNotFoundError:
        return missing(code.strip()[:40])
    if not book.authorised(found, token or None):
        message = "This key needs its token: open the key link given when the sheet was made."
        return render("sheet_error.html", {"title": "Not your key", "message": message}, 403)
    context = sheet_context(request, found, sheet)
    base = base_url(request)
    context.update(
        {
            "workings": [
                (entry, sheet.derivation(blank))
                for entry, blank in zip(entries(sheet), sheet.blanks, strict=True)
            ],
            "sheet_url": f"{base}/sheets/{found}",
            "key_url": f"{base}/sheets/{found}/key?token={token}",
        }
    )
    return render("sheet_key.html", context)
