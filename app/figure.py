"""What the page's figure shows: the network diagram with its number on every edge when they fit,
else the weight matrix of one layer at a time; or, when asked, a table of every number.

"When they fit" is decided on the landscape canvas (the projector's) by :mod:`app.diagram`: both
lines of every edge label, else the phase's quantity alone, each kept clear of the others, of the
units and of the crossings at the size the projector needs. A network whose units are too close
for their numbers (more than 4 in a layer) or whose labels find no room gets the matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from app import diagram, matrix
from app.diagram import Diagram
from app.diagram_geometry import ORIENTATIONS, Orientation, geometry
from app.focus import STALE_NOTE, focus_of, notes_of
from app.matrix import MatrixView, Numbers
from app.notation import Symbol, fmt, post_weight_symbol, unit_symbol, weight_symbol
from app.session import PHASE_TABLE, Session

Mode = Literal["diagram", "matrix", "table"]
#: What the figure is asked to show: "auto" is the diagram when its numbers fit, else the matrix.
Show = Literal["auto", "diagram", "matrix", "table"]
SHOWS: tuple[Show, ...] = ("auto", "diagram", "matrix", "table")

#: Why the matrix is shown, in a line (the view's title names its rows and columns).
MATRIX_NOTE = "Too many numbers for the edges: one weight matrix at a time."


@dataclass(frozen=True)
class Figure:
    mode: Mode
    #: The diagram was asked for (or chosen) but its numbers did not fit.
    crowded: bool
    #: The drawings, in the order asked (the first carries the data attributes and ids).
    drawings: tuple[Diagram, ...]
    matrix: MatrixView | None
    #: Every number of the diagram, for the table view (its nodes and edges).
    table: Diagram | None
    #: The weight matrix shown (0-based) and how many there are.
    layer: int
    matrices: int
    #: Names of the weight matrices, for the layer picker ("w", "u" or "w(1)", "w(2)", ...).
    matrix_names: tuple[str, ...]
    caption: str
    notes: tuple[str, ...]
    #: Whether the post's names (w1…w8) can be asked for: a 2-2-2 network.
    post_names: bool


def _namers(
    session: Session, names: str
) -> tuple[Callable[[int, int], Symbol], Callable[[int, int, int], Symbol]]:
    count = len(session.arch.layers)
    post = names == "post" and session.arch.layers == (2, 2, 2)

    def unit(l: int, j: int) -> Symbol:
        return unit_symbol(l, j, count)

    def weight(l: int, i: int, j: int) -> Symbol:
        return post_weight_symbol(l, i, j) if post else weight_symbol(l, i, j, count)

    return unit, weight


def numbers_of(session: Session) -> list[Numbers]:
    """Each layer's weights, and the gradients and old weights the phase has."""
    backward = session.backward if PHASE_TABLE[session.phase].shows_backward else None
    previous = session.previous if session.phase == "updated" else None
    found = []
    for l, weights in enumerate(session.params.weights):
        gradient = backward.weight_gradients[l] if backward is not None else None
        found.append(
            Numbers(
                weights=weights.tolist(),
                gradients=gradient.tolist() if gradient is not None else None,
                old_weights=previous.weights[l].tolist() if previous is not None else None,
            )
        )
    return found


def default_layer(session: Session) -> int:
    """The layer a sub-step just worked on, else the first."""
    focus = focus_of(session)
    return min(focus.edge_layers) if len(focus.edge_layers) == 1 else 0


def matrix_view(session: Session, layer: int, names: str = "") -> MatrixView:
    unit, weight = _namers(session, names)
    return matrix.build(numbers_of(session), layer, matrix.quantity_of(session.phase), unit, weight, fmt)


def build(
    session: Session,
    *,
    show: Show = "auto",
    layer: int | None = None,
    names: str = "",
    orientations: Sequence[Orientation] = ORIENTATIONS,
) -> Figure:
    """The figure for a session: ``show`` what is asked, ``layer`` the matrix shown (None: the
    one the last sub-step worked on), the drawings in ``orientations`` (the ones the page shows)."""
    depth = session.arch.depth
    chosen = layer if layer is not None and 0 <= layer < depth else default_layer(session)
    weight = _namers(session, names)[1]
    notes = notes_of(session)

    def figure(
        mode: Mode,
        crowded: bool = False,
        drawings: tuple[Diagram, ...] = (),
        view: MatrixView | None = None,
        table: Diagram | None = None,
    ) -> Figure:
        return Figure(
            mode=mode,
            crowded=crowded,
            drawings=drawings,
            matrix=view,
            table=table,
            layer=chosen,
            matrices=depth,
            matrix_names=tuple(matrix.matrix_name(weight(l, 0, 0)) for l in range(depth)),
            caption=focus_of(session).caption,
            # The matrix draws no units, so it has no stale ones to speak of.
            notes=(*((MATRIX_NOTE,) if crowded else ()), *(n for n in notes if n != STALE_NOTE))
            if mode == "matrix"
            else notes,
            post_names=session.arch.layers == (2, 2, 2),
        )

    if show == "table":
        return figure("table", table=diagram.build(session, names=names, labels=False))
    if show == "matrix":
        return figure("matrix", view=matrix_view(session, chosen, names))
    if show == "auto" and not geometry(session.arch.layers, "landscape").roomy:
        return figure("matrix", True, view=matrix_view(session, chosen, names))
    # The projector's drawing decides; the others are built only if it is shown.
    landscape = diagram.build(session, "landscape", names=names)
    crowded = not (landscape.labelled and landscape.roomy)
    if show == "auto" and crowded:
        return figure("matrix", crowded, view=matrix_view(session, chosen, names))
    drawings = tuple(
        landscape if o == "landscape" else diagram.build(session, o, names=names) for o in orientations
    )
    return figure("diagram", crowded, drawings=drawings)
