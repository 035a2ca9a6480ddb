"""The JSON API of exercise sheets (app/sheets.py): make a sheet, read the numbers it gives, grade
answers, and, with the key token, read the key. Thin routes: parse, call, answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app import sheets
from app.issued_sheets import Sheets
from app.sheets import MAX_BLANKS, MAX_SEED, MIN_BLANKS, Blank, Sheet, SheetNotFoundError, SheetPhase
from app.web.api_route import JsonRoute
from app.web.contract import answers
from app.web.schemas import PresetChoice, Strict, Whole

router = APIRouter(prefix="/api", tags=["sheets"], route_class=JsonRoute)

_NO_SHEET = "No such sheet (or it expired)"
#: What reading a sheet can answer: not found, invalid input, the store unavailable.
ERRORS = answers(404, 422, 503, _404=_NO_SHEET)
#: Most answers one grading request may carry (a sheet has at most 20 blanks).
MAX_ANSWERS = 100


def get_sheets(request: Request) -> Sheets:
    book: Sheets = request.app.state.sheets
    return book


SheetsDep = Annotated[Sheets, Depends(get_sheets)]


def find(book: Sheets, code: str) -> tuple[str, Sheet]:
    """The sheet of a code, or 404."""
    try:
        return book.find(code)
    except SheetNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


def urls(request: Request, code: str, token: str) -> tuple[str, str]:
    """The sheet's printable page and its key page (which carries the token), on this host."""
    base = str(request.base_url).rstrip("/")
    return f"{base}/sheets/{code}", f"{base}/sheets/{code}/key?token={token}"


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

#: A 0-based index as in MATH.md; whole numbers only.
Index = Annotated[list[Whole], Field(min_length=1, max_length=3)]


class Quantity(Strict):
    """A quantity as `/check` names it (exactly one of unit, weight, bias, loss) and the phase whose
    value is asked: forward (a unit's activation h, the loss), backward (a unit's δ = ∂L/∂a, a
    weight's or bias's gradient) or update (a weight's or bias's new value)."""

    unit: Index | None = Field(None, description="[l, j], 0-based; [0, i] would be input x_i")
    weight: Index | None = Field(
        None, description="[l, i, j]: joins unit i of layer l to unit j of layer l+1"
    )
    bias: Index | None = Field(None, description="[l, j]: the bias of unit j of layer l+1")
    loss: Literal[True] | None = Field(None, description="true: the loss L")
    phase: SheetPhase

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"unit": [1, 0], "phase": "forward"},
                {"weight": [1, 2, 1], "phase": "backward"},
                {"bias": [0, 1], "phase": "update"},
                {"loss": True, "phase": "forward"},
            ]
        },
    )

    @model_validator(mode="after")
    def _one_name(self) -> Quantity:
        given = [name for name in ("unit", "weight", "bias", "loss") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of unit, weight, bias or loss (and the phase)")
        return self

    def blank(self) -> Blank:
        if self.loss:
            return Blank("loss", (), self.phase)
        for kind in ("unit", "weight", "bias"):
            index = getattr(self, kind)
            if index is not None:
                return Blank(kind, tuple(index), self.phase)
        raise AssertionError("checked by the validator")  # pragma: no cover

    @classmethod
    def of(cls, blank: Blank) -> Quantity:
        return cls.model_validate(blank.quantity())


class SheetRequest(Strict):
    """What to make: a preset's network, seeded, with some quantities left blank."""

    preset: PresetChoice = Field(
        "article", description="A preset's name (GET /api/presets): its architecture"
    )
    seed: Whole | None = Field(
        None, ge=0, le=MAX_SEED, description="Draws the numbers and the blanks; random when omitted"
    )
    blanks: Whole = Field(ge=MIN_BLANKS, le=MAX_BLANKS, description="How many quantities to leave blank")
    phases: list[SheetPhase] | None = Field(
        None, min_length=1, max_length=3, description="Which phases the blanks come from (default: all)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"preset": "article", "seed": 42, "blanks": 8},
                {"preset": "mazur", "blanks": 5, "phases": ["backward"]},
                {"preset": "xor", "seed": 7, "blanks": 12, "phases": ["forward", "backward", "update"]},
            ]
        },
    )


class SheetCreated(BaseModel):
    """A sheet as made. Same preset, seed, blanks and phases: same sheet, same code."""

    code: str = Field(description="What students type to check their answers, e.g. 7KQ2-MX9D-3FHA")
    sheet_url: str = Field(description="The printable sheet (A4 or Letter, at most two pages)")
    key_url: str = Field(description="The answer key with the full working; it carries the key token")
    key_token: str = Field(description="Authorization: Bearer <key_token> for GET /api/sheets/{code}/key")
    quantities: list[Quantity] = Field(description="The blanks, in the order a step computes them")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "7KQ2-MX9D-3FHA",
                    "sheet_url": "http://127.0.0.1:8000/sheets/7KQ2-MX9D-3FHA",
                    "key_url": "http://127.0.0.1:8000/sheets/7KQ2-MX9D-3FHA/key?token=q3Jx…",
                    "key_token": "q3Jx…",
                    "quantities": [
                        {"unit": [1, 0], "phase": "forward"},
                        {"weight": [1, 2, 1], "phase": "update"},
                    ],
                }
            ]
        }
    )


class SheetInfo(BaseModel):
    """The numbers a sheet gives and what it asks for (never the answers)."""

    code: str
    preset: str
    layers: list[int]
    activation: str
    output_activation: str
    loss: str
    learning_rate: float
    train_biases: bool
    weights: list[list[list[float]]] = Field(description="weights[l][i][j], as in POST /api/sessions")
    biases: list[list[float]]
    input: list[float]
    target: list[float]
    quantities: list[Quantity]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "7KQ2-MX9D-3FHA",
                    "preset": "mazur",
                    "layers": [2, 2, 2],
                    "activation": "sigmoid",
                    "output_activation": "sigmoid",
                    "loss": "l2",
                    "learning_rate": 0.5,
                    "train_biases": False,
                    "weights": [[[0.47, 0.06], [-0.89, 0.91]], [[-0.93, -0.52], [-0.76, -0.25]]],
                    "biases": [[0.26, -0.42], [0.47, 0.85]],
                    "input": [0.01, 0.37],
                    "target": [0.05, 0.82],
                    "quantities": [
                        {"unit": [2, 1], "phase": "forward"},
                        {"weight": [1, 1, 0], "phase": "update"},
                    ],
                }
            ]
        }
    )


class Answer(Strict):
    quantity: Quantity
    value: float = Field(allow_inf_nan=False, description="The number worked out for it")


class GradeRequest(Strict):
    """Answers for some or all blanks, in any order; an unanswered blank scores nothing."""

    answers: list[Answer] = Field(max_length=MAX_ANSWERS)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answers": [
                        {"quantity": {"unit": [1, 0], "phase": "forward"}, "value": 0.5933},
                        {"quantity": {"weight": [1, 2, 1], "phase": "update"}, "value": -0.2231},
                    ]
                }
            ]
        },
    )


class GradeResult(BaseModel):
    quantity: Quantity
    correct: bool = Field(description="Within check my answer's tolerance of the engine's number")


class GradeResponse(BaseModel):
    """One result per blank, in the sheet's order; the expected values are never given."""

    score: int = Field(description="How many blanks are correct")
    out_of: int = Field(description="How many blanks the sheet has")
    results: list[GradeResult]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "score": 1,
                    "out_of": 2,
                    "results": [
                        {"quantity": {"unit": [1, 0], "phase": "forward"}, "correct": True},
                        {"quantity": {"weight": [1, 2, 1], "phase": "update"}, "correct": False},
                    ],
                }
            ]
        }
    )


class KeyResponse(BaseModel):
    """Every blank with the engine's number: exactly the body POST /api/sheets/{code}/grade takes."""

    answers: list[Answer]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answers": [
                        {"quantity": {"unit": [1, 0], "phase": "forward"}, "value": 0.5932699921071872},
                        {"quantity": {"weight": [1, 2, 1], "phase": "update"}, "value": -0.2230941127},
                    ]
                }
            ]
        }
    )


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------

#: The key token is a bearer token; /docs shows an Authorize button for it.
bearer = HTTPBearer(
    auto_error=False, scheme_name="Key token", description="The key_token POST /api/sheets answered"
)


@router.post(
    "/sheets",
    status_code=201,
    response_model=SheetCreated,
    response_model_exclude_none=True,
    responses={
        201: {
            "description": "The sheet, made (or made again: the same spec gives the same sheet)",
            "links": {
                name: {"operationId": name, "parameters": {"code": "$response.body#/code"}}
                for name in ("get_sheet", "grade_sheet")
            },
        },
        **answers(403, 413, 422, 503),
    },
)
def create_sheet(body: SheetRequest, book: SheetsDep, request: Request, response: Response) -> SheetCreated:
    """Make an exercise sheet: one training step of the preset's network by hand, with `blanks`
    quantities to work out. The weights, biases and sample are drawn from the seed in hundredths;
    the answers are computed from exactly those numbers. 422 when the phases asked have fewer
    quantities than `blanks`."""
    spec = sheets.SheetSpec.of(body.preset, body.seed, body.blanks, body.phases)
    issued = book.create(spec)
    sheet_url, key_url = urls(request, issued.code, issued.key_token)
    response.headers["Location"] = f"/api/sheets/{issued.code}"
    return SheetCreated(
        code=issued.code,
        sheet_url=sheet_url,
        key_url=key_url,
        key_token=issued.key_token,
        quantities=[Quantity.of(blank) for blank in issued.sheet.blanks],
    )


@router.get("/sheets/{code}", response_model=SheetInfo, response_model_exclude_none=True, responses=ERRORS)
def get_sheet(code: str, book: SheetsDep) -> SheetInfo:
    """The numbers the sheet gives and the quantities it asks for; the code may be typed loosely
    (lower case, spaces, no dashes)."""
    code, sheet = find(book, code)
    start, arch = sheet.start, sheet.arch
    return SheetInfo(
        code=code,
        preset=sheet.spec.preset,
        layers=list(arch.layers),
        activation=arch.activation,
        output_activation=arch.output_activation,
        loss=arch.loss,
        learning_rate=start.config.learning_rate,
        train_biases=start.config.train_biases,
        weights=[w.tolist() for w in start.params.weights],
        biases=[b.tolist() for b in start.params.biases],
        input=start.input,
        target=start.target,
        quantities=[Quantity.of(blank) for blank in sheet.blanks],
    )


@router.post(
    "/sheets/{code}/grade",
    response_model=GradeResponse,
    response_model_exclude_none=True,
    responses=answers(403, 404, 413, 422, 503, _404=_NO_SHEET),
)
def grade_sheet(code: str, body: GradeRequest, book: SheetsDep) -> GradeResponse:
    """Mark answers as check my answer marks them (about four significant digits pass). One result
    per blank; a quantity that is not a blank of this sheet, or one answered twice, is refused (422)."""
    _, sheet = find(book, code)
    marks = sheets.grade(sheet, [(answer.quantity.blank(), answer.value) for answer in body.answers])
    return GradeResponse(
        score=sum(mark.correct for mark in marks),
        out_of=len(marks),
        results=[GradeResult(quantity=Quantity.of(mark.blank), correct=mark.correct) for mark in marks],
    )


@router.get(
    "/sheets/{code}/key",
    response_model=KeyResponse,
    response_model_exclude_none=True,
    responses=answers(403, 404, 422, 503, _403="No key token, or not this sheet's", _404=_NO_SHEET),
)
def get_sheet_key(
    code: str,
    book: SheetsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> KeyResponse:
    """The answer key, with `Authorization: Bearer <key_token>`: every blank with the engine's
    number, in exactly the shape `/grade` takes."""
    code, sheet = find(book, code)
    if not book.authorised(code, credentials.credentials if credentials is not None else None):
        raise HTTPException(403, "the key needs this sheet's key token: Authorization: Bearer <key_token>")
    return KeyResponse(
        answers=[Answer(quantity=Quantity.of(blank), value=value) for blank, value in sheet.answers()]
    )
