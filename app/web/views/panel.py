"""The side panel's view: which tab is open, which quantity is selected, and what the Working and
Gradients tabs show.

The view is part of the URL (``?tab=work&select=weight:0,1,2``), so every state of the panel can be
linked, reloaded and reached without JavaScript; htmx requests carry the same parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from urllib.parse import quote, urlencode

from app import answers, explain, gradcheck
from app.answers import CheckResult
from app.errors import InvalidInputError, NothingComputedError
from app.explain import Derivation
from app.gradcheck import GradientCheck
from app.quantity import Kind, check_index, parse_index
from app.session import PHASE_TABLE, Session
from app.sheets import parse_answer

#: The panel's tabs, in order, with their labels. Each has a template ``templates/_<tab>.html``;
#: "data" holds the sample form (its own region, "sample") above the datasets.
TABS: dict[str, str] = {
    "work": "Working",
    "data": "Data",
    "gradients": "Gradients",
    "train": "Train",
    "network": "Network",
}
DEFAULT_TAB = "work"


#: How the figure shows the network (see app/figure.py): "" is the diagram when its numbers fit,
#: else the weight matrix.
SHOWS = ("diagram", "matrix", "table")
THEMES = ("light", "dark")


@dataclass(frozen=True)
class View:
    """What the panel shows; everything comes from the request, nothing is stored."""

    #: The open tab, a key of TABS.
    tab: str = DEFAULT_TAB
    #: The selected quantity: "", "loss", "unit:l,j", "weight:l,i,j" or "bias:l,j" (0-based).
    select: str = ""
    #: "Try it yourself": the working is shown without its numbers until the learner answers.
    quiz: bool = False
    #: A value the learner worked out by hand, to be checked ("" if none).
    answer: str = ""
    #: Presentation mode: the diagram fills the screen, editing controls are tucked away.
    present: bool = False
    #: "light" or "dark"; "" follows the system's preference.
    theme: str = ""
    #: The figure: "" (automatic), "diagram", "matrix" or "table" (see SHOWS).
    show: str = ""
    #: The weight matrix shown in the matrix view (0-based), "" for the one the last step used.
    layer: str = ""
    #: "post": a 2-2-2 network's weights carry the names of Matt Mazur's post (w1…w8).
    names: str = ""

    @classmethod
    def parse(cls, values: Mapping[str, str]) -> View:
        """Tolerant: an unknown tab, theme or figure falls back to the default; the selection is
        checked later."""
        tab = values.get("tab", DEFAULT_TAB)
        theme, show, layer = values.get("theme", ""), values.get("show", ""), values.get("layer", "")
        return cls(
            tab=tab if tab in TABS else DEFAULT_TAB,
            select=values.get("select", "")[:40],
            quiz=values.get("quiz", "") in ("1", "true", "on"),
            answer=values.get("answer", "")[:60],
            present=values.get("present", "") in ("1", "true", "on"),
            theme=theme if theme in THEMES else "",
            show=show if show in SHOWS else "",
            layer=layer if layer.isdigit() and len(layer) == 1 else "",
            names="post" if values.get("names") == "post" else "",
        )

    def but(self, **changes: str | bool) -> View:
        """This view with ``changes``. The page asks for the same few changes of the same views
        on every step (its tabs, toggles and figure links), so the answers are kept."""
        return _changed(self, tuple(sorted(changes.items())))

    def fields(self) -> dict[str, str]:
        """The view as form fields (what a step must carry to keep the panel as it is)."""
        fields = {"tab": self.tab}
        if self.select:
            fields["select"] = self.select
        if self.quiz:
            fields["quiz"] = "1"
        fields.update(self._figure_fields)
        return fields

    @cached_property
    def _figure_fields(self) -> dict[str, str]:
        """The fields that say how the page and its figure look (kept by every link and step)."""
        fields = {}
        if self.present:
            fields["present"] = "1"
        for name in ("theme", "show", "layer", "names"):
            value = getattr(self, name)
            if value:
                fields[name] = value
        return fields

    @cached_property
    def query(self) -> str:
        """The view as a URL query, for links; empty for the default view."""
        fields = self.fields()
        if fields == {"tab": DEFAULT_TAB}:
            return ""
        return "?" + urlencode(fields)

    @cached_property
    def _pick_prefix(self) -> tuple[str, str]:
        rest = {"quiz": "1"} if self.quiz else {}
        rest.update(self._figure_fields)
        return "?tab=work&select=", ("&" + urlencode(rest)) if rest else ""

    def pick(self, key: str) -> str:
        """The query of this view with ``key`` selected in the Working tab (and no answer): every
        unit, weight and bias of the figure links to it, so it is built from a prefix computed
        once per view rather than urlencoded per link."""
        head, tail = self._pick_prefix
        if key.replace(":", "").replace(",", "").isalnum():
            # the figure's own keys ("weight:0,1,2"): two characters to escape
            return head + key.replace(":", "%3A").replace(",", "%2C") + tail
        return head + quote(key, safe="") + tail


@lru_cache(maxsize=4096)
def _changed(view: View, changes: tuple[tuple[str, str | bool], ...]) -> View:
    return replace(view, **dict(changes))  # type: ignore[arg-type]


def select_key(kind: Kind, index: tuple[int, ...]) -> str:
    return kind if kind == "loss" else f"{kind}:{','.join(str(i) for i in index)}"


def selection(session: Session, view: View) -> tuple[Kind, tuple[int, ...]] | None:
    """The selected quantity, checked against the network; None if nothing is selected."""
    if not view.select:
        return None
    if view.select == "loss":
        return "loss", ()
    kind, _, text = view.select.partition(":")
    if kind not in ("unit", "weight", "bias"):
        raise InvalidInputError(f"select: unknown quantity {view.select!r}")
    typed: Kind = "unit" if kind == "unit" else "weight" if kind == "weight" else "bias"
    return check_index(session.arch, typed, parse_index(text, typed))


def auto_select(session: Session) -> str:
    """What a sub-step just computed, to open its derivation."""
    depth = session.arch.depth
    fwd, bwd = session.forward, session.backward
    computed = PHASE_TABLE[session.phase].computed
    if computed == "layer" and fwd is not None:
        return select_key("unit", (fwd.layers_done, 0))
    if computed == "loss":
        return "loss"
    if computed == "delta" and bwd is not None:
        return select_key("unit", (depth - bwd.layers_done + 1, 0))
    if computed == "update":
        return select_key("weight", (depth - 1, 0, 0))
    return ""


@dataclass(frozen=True)
class Work:
    """What the Working tab shows."""

    #: The derivation of the selected quantity (None: nothing selected, or not computed yet).
    derivation: Derivation | None
    #: Why there is no derivation, in words (None when there is one, or nothing is selected).
    message: str | None
    #: The verdict on the learner's answer, once given.
    check: CheckResult | None
    #: Why the answer could not be checked ("not a number").
    answer_error: str | None
    #: With nothing selected: the loss derivation, once the forward pass has computed it.
    loss: Derivation | None
    #: The derivation (or the loss) belongs to the forward pass before the update just made.
    stale: bool = False


def work(session: Session, view: View) -> Work:
    """The Working tab. In presentation mode with nothing selected it works what the last step
    computed, so the projected derivation always follows the steps."""
    if view.present and not view.select:
        view = view.but(select=auto_select(session))
    derivation: Derivation | None = None
    message: str | None = None
    result: CheckResult | None = None
    answer_error: str | None = None
    try:
        chosen = selection(session, view)
    except InvalidInputError as exc:
        chosen, message = None, str(exc)
    if chosen is not None:
        kind, index = chosen
        try:
            derivation = explain.explain(session, kind, index)
        except NothingComputedError as exc:
            message = str(exc)
        if derivation is not None and view.answer.strip():
            # Read as on an exercise sheet: a decimal point or comma ("0.0821", "0,0821").
            try:
                result = answers.check(session, kind, index, parse_answer(view.answer))
            except ValueError as exc:
                answer_error = str(exc)
    loss = None
    if chosen is None and session.forward is not None and session.forward.complete:
        loss = explain.explain(session, "loss", ())
    stale = session.phase == "updated" and (chosen is None or chosen[0] in ("unit", "loss"))
    return Work(derivation, message, result, answer_error, loss, stale)


def gradients(session: Session) -> GradientCheck:
    """Backprop beside central finite differences for every parameter, at the current weights."""
    return gradcheck.gradient_check(session)
