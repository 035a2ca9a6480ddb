"""Where each edge's number goes: on its own edge, clear of every other label, node and crossing.

Pure geometry in SVG user units; nothing here knows about sessions or templates. The caller gives
each edge as a segment with the size of its text block, and what the labels must keep off (node
circles, the text around the nodes, the viewBox); :func:`place_labels` returns, for every edge, the
parameter ``t`` along its segment where the label's centre sits, and the halo box (the background
the template draws under the digits, so no line ever runs through one).

Hard rules, for every label: its halo lies inside the bounds; it keeps ``gap`` from every other
halo and from every obstacle; every point where its edge crosses another edge is at least
``crossing`` away from its halo, so the crossing stays in sight beside the label and the line
through the label's centre is plainly its own. Soft preferences, in this order (see
``Clearance.intrusion``): as few other edges as possible passing under the halo, where they would
vanish beside the number; then near the source end of the edge, where a unit's fan of edges has
not yet met the other fans. Labels of one source end up staggered along their edges because the
hard rules forbid them to stack where the fan is narrow.

The labels are upright, not rotated along their edges. Tilted text would name its edge by its
direction, but these edges slope by up to 62° (landscape, 2-4-4-1) and 80° (portrait), and numbers
tilted that far are read digit by digit from the back of a classroom; multi-line labels (value,
then ∂ or → new value) would fan out like cards. Upright boxes also cover less of a steep edge: a
line leaves a w×h box after min(w/|cos θ|, h/|sin θ|)/2, less than the w/2 of a rotated label once
the edge is steeper than atan(h/w), which leaves more room between the nodes and the crossings.
Tried on a dozen architectures in both layouts at 18 units with five label texts, rotated labels
found room in none of the cases where upright ones did not, and failed in many where they did.

The search is deterministic: the candidate positions of each label are sorted by cost, labels with
the fewest candidates are placed first, a choice that leaves another label without a place is
undone (backtracking with forward checking, within a budget), and a final pass moves each label to
its cheapest position that still fits. When no arrangement is found the answer is None: the caller
then shrinks the font (see :func:`place_largest`) or shows the weight matrix instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Width of one character as a fraction of the font size: bold digits in DejaVu Sans / system-ui,
#: an upper bound (the same model app/diagram.py sizes its boxes with).
CHAR_WIDTH = 0.64
#: Distance between the baselines of two lines of one label, as a fraction of the font size.
LINE_HEIGHT = 1.2
#: Where a baseline sits below the top of its line box, as a fraction of the font size: DejaVu
#: Sans has ascent 0.928 and descent 0.236 em, centred in a 1.2 em line.
BASELINE = (LINE_HEIGHT - 0.928 - 0.236) / 2 + 0.928


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in user units (y grows downwards, as in SVG)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def grown(self, by: float) -> Box:
        return Box(self.left - by, self.top - by, self.right + by, self.bottom + by)

    def intersects(self, other: Box) -> bool:
        """True when the interiors meet (boxes that only touch do not)."""
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )

    def contains(self, other: Box) -> bool:
        return (
            self.left <= other.left
            and self.top <= other.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def distance_to_point(self, x: float, y: float) -> float:
        """0 inside or on the border, else the distance from the point to the box."""
        dx = max(self.left - x, 0.0, x - self.right)
        dy = max(self.top - y, 0.0, y - self.bottom)
        return math.hypot(dx, dy)

    def intersects_circle(self, circle: Circle) -> bool:
        return self.distance_to_point(circle.x, circle.y) < circle.r

    def crosses_segment(self, segment: Segment) -> bool:
        """True when some stretch of the segment runs through the box's interior (Liang–Barsky
        clipping; a segment along a side or through a corner only does not count)."""
        x1, y1, x2, y2 = segment
        low, high = 0.0, 1.0
        for p, q in (
            (x1 - x2, x1 - self.left),
            (x2 - x1, self.right - x1),
            (y1 - y2, y1 - self.top),
            (y2 - y1, self.bottom - y1),
        ):
            if p == 0:
                if q <= 0:
                    return False
                continue
            r = q / p
            if p < 0:
                low = max(low, r)
            else:
                high = min(high, r)
        return low < high


@dataclass(frozen=True)
class Circle:
    """A node's disc."""

    x: float
    y: float
    r: float


Obstacle = Box | Circle
#: (x1, y1, x2, y2)
Segment = tuple[float, float, float, float]


def text_size(lines: Sequence[str], font: float) -> tuple[float, float]:
    """Width and height of a block of centred lines at a font size (the character-width model)."""
    longest = max((len(line) for line in lines), default=0)
    return longest * font * CHAR_WIDTH, len(lines) * font * LINE_HEIGHT


def text_box(x: float, baseline: float, text: str, font: float) -> Box:
    """The box of one line of text centred at x on a baseline (for obstacles: unit names, biases)."""
    width, _ = text_size([text], font)
    top = baseline - BASELINE * font
    return Box(x - width / 2, top, x + width / 2, top + LINE_HEIGHT * font)


def crossing(a: Segment, b: Segment) -> tuple[float, float, float] | None:
    """Where two segments meet: (x, y, t along ``a``), or None when they do not (or are parallel).
    Meeting at an end counts (t is then 0 or 1)."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    dax, day, dbx, dby = ax2 - ax1, ay2 - ay1, bx2 - bx1, by2 - by1
    denominator = dax * dby - day * dbx
    if abs(denominator) < 1e-12:
        return None
    ex, ey = bx1 - ax1, by1 - ay1
    t = (ex * dby - ey * dbx) / denominator
    u = (ex * day - ey * dax) / denominator
    if not (0.0 <= t <= 1.0 and 0.0 <= u <= 1.0):
        return None
    return ax1 + dax * t, ay1 + day * t, t


# --------------------------------------------------------------------------------------------
# Placing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeLabel:
    """One edge to label: its segment (from the source's circle to the target's) and its text."""

    id: str
    x1: float
    y1: float
    x2: float
    y2: float
    #: The text block's size (see :func:`text_size`), without the halo.
    width: float
    height: float

    @property
    def segment(self) -> Segment:
        return self.x1, self.y1, self.x2, self.y2

    @property
    def length(self) -> float:
        return math.hypot(self.x2 - self.x1, self.y2 - self.y1)

    def point(self, t: float) -> tuple[float, float]:
        return self.x1 + (self.x2 - self.x1) * t, self.y1 + (self.y2 - self.y1) * t


@dataclass(frozen=True)
class Clearance:
    """The distances the rules keep, in user units, and the price of a foreign line."""

    #: Background drawn around the text block on every side.
    halo: float
    #: Least room between two halos, and between a halo and an obstacle.
    gap: float
    #: Least distance from a halo to a point where its edge crosses another edge.
    crossing: float
    #: Distance between neighbouring candidate positions along an edge.
    step: float
    #: Cost of each other edge passing under a halo, in units of t (0 = source end, 1 = target end):
    #: at 1, one edge fewer under the label is worth any distance along its own.
    intrusion: float = 1.0

    @classmethod
    def for_font(cls, font: float) -> Clearance:
        """A quarter em of halo, so a crossing stays half an em from the digits; 0.15 em between
        halos; candidates a quarter em apart."""
        return cls(halo=0.25 * font, gap=0.15 * font, crossing=0.25 * font, step=0.25 * font)


@dataclass(frozen=True)
class Placement:
    """Where one label goes."""

    id: str
    #: The centre's parameter along the edge: 0 at (x1, y1), 1 at (x2, y2).
    t: float
    #: The centre of the text block and of its halo: a point of the edge.
    x: float
    y: float
    #: The text block, and the background the template draws under it (a rounded rect).
    text: Box
    halo: Box

    def baseline(self, font: float, lines: int) -> float:
        """The y of the first baseline of a block of ``lines`` lines centred at (x, y); the
        template adds ``dy="1.2em"`` for each further line."""
        return self.y - lines * font * LINE_HEIGHT / 2 + BASELINE * font


@dataclass(frozen=True)
class _Candidate:
    t: float
    x: float
    y: float
    text: Box
    halo: Box
    #: The halo grown by half the gap: two candidates conflict when these meet.
    reach: Box
    cost: float


def _crossings(index: int, segments: Sequence[Segment]) -> list[tuple[float, float]]:
    """Where edge ``index`` crosses the others. Edges that share a unit meet only at its centre,
    outside their segments (which end on the circle), so every point found is a true crossing."""
    found = []
    for other, segment in enumerate(segments):
        if other != index:
            point = crossing(segments[index], segment)
            if point is not None:
                found.append((point[0], point[1]))
    return found


def _near(box: Box, obstacle: Obstacle) -> bool:
    if isinstance(obstacle, Circle):
        return box.distance_to_point(obstacle.x, obstacle.y) < obstacle.r
    return box.intersects(obstacle)


def _candidates(
    index: int,
    labels: Sequence[EdgeLabel],
    obstacles: Sequence[Obstacle],
    area: Box,
    clearance: Clearance,
) -> list[_Candidate]:
    """Every position along the edge that breaks no rule against the fixed scene, cheapest first."""
    label = labels[index]
    segments = [other.segment for other in labels]
    # What a label anywhere on this edge could touch; the rest of the scene is left out of the loop.
    sweep = Box(
        min(label.x1, label.x2) - label.width / 2,
        min(label.y1, label.y2) - label.height / 2,
        max(label.x1, label.x2) + label.width / 2,
        max(label.y1, label.y2) + label.height / 2,
    ).grown(clearance.halo + clearance.gap + clearance.crossing)
    nearby = [o for o in obstacles if _near(sweep, o)]
    others = [
        (segment, Box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
        for other, segment in enumerate(segments)
        if other != index and sweep.crosses_segment(segment)
        for x1, y1, x2, y2 in [segment]
    ]
    crossings = _crossings(index, segments)
    steps = max(math.floor(label.length / clearance.step), 1)
    found: list[_Candidate] = []
    for k in range(1, steps):
        t = k / steps
        x, y = label.point(t)
        text = Box(x - label.width / 2, y - label.height / 2, x + label.width / 2, y + label.height / 2)
        halo = text.grown(clearance.halo)
        if not area.contains(halo):
            continue
        keep_off = halo.grown(clearance.gap)
        if any(_near(keep_off, o) for o in nearby):
            continue
        if any(halo.distance_to_point(cx, cy) < clearance.crossing for cx, cy in crossings):
            continue
        intrusions = sum(
            1 for segment, span in others if halo.intersects(span) and halo.crosses_segment(segment)
        )
        cost = t + clearance.intrusion * intrusions
        found.append(_Candidate(t, x, y, text, halo, halo.grown(clearance.gap / 2), cost))
    found.sort(key=lambda c: (c.cost, c.t))
    return found


#: How many tentative placements the search may make before it gives up on a scene.
BUDGET = 20_000


def place_labels(
    labels: Sequence[EdgeLabel],
    obstacles: Sequence[Obstacle],
    bounds: tuple[float, float],
    clearance: Clearance,
) -> list[Placement] | None:
    """A place on its own edge for every label, in the order given; None when there is none.

    ``bounds`` is the viewBox's (width, height), which every halo stays inside.
    """
    area = Box(0.0, 0.0, bounds[0], bounds[1])
    domains = [_candidates(index, labels, obstacles, area, clearance) for index in range(len(labels))]
    if not all(domains):
        return None
    placed: dict[int, _Candidate] = {}
    # Labels that can never meet are placed independently: a group that has no solution is then
    # found out once, not again under every arrangement of an unrelated group.
    for group in _groups(domains):
        found = _search([domains[i] for i in group])
        if found is None:
            return None
        placed.update(zip(group, found, strict=True))
    chosen = [placed[i] for i in range(len(labels))]
    _improve(chosen, domains)
    return [
        Placement(label.id, round(c.t, 6), round(c.x, 2), round(c.y, 2), c.text, c.halo)
        for label, c in zip(labels, chosen, strict=True)
    ]


def _groups(domains: list[list[_Candidate]]) -> list[list[int]]:
    """The labels split into groups that cannot meet: two labels are in one group when the boxes
    around all their candidate places meet (directly or through other labels)."""
    hulls = [
        Box(
            min(c.reach.left for c in domain),
            min(c.reach.top for c in domain),
            max(c.reach.right for c in domain),
            max(c.reach.bottom for c in domain),
        )
        for domain in domains
    ]
    group_of = list(range(len(domains)))

    def root(i: int) -> int:
        while group_of[i] != i:
            i = group_of[i]
        return i

    for i in range(len(hulls)):
        for k in range(i):
            if hulls[i].intersects(hulls[k]):
                group_of[root(i)] = root(k)
    groups: dict[int, list[int]] = {}
    for i in range(len(domains)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _search(domains: list[list[_Candidate]]) -> list[_Candidate] | None:
    """Backtracking with forward checking: the label with the fewest places left goes next, into
    its cheapest place; the places that conflict with it are struck from the others' lists."""
    count = len(domains)
    assigned: list[_Candidate | None] = [None] * count
    budget = BUDGET

    def solve(remaining: list[list[_Candidate]]) -> bool:
        nonlocal budget
        waiting = [i for i in range(count) if assigned[i] is None]
        if not waiting:
            return True
        index = min(waiting, key=lambda i: (len(remaining[i]), i))
        for candidate in remaining[index]:
            budget -= 1
            if budget < 0:
                return False
            pruned = list(remaining)
            for other in waiting:
                if other != index:
                    pruned[other] = [c for c in remaining[other] if not c.reach.intersects(candidate.reach)]
                    if not pruned[other]:
                        break
            else:
                assigned[index] = candidate
                if solve(pruned):
                    return True
                assigned[index] = None
        return False

    if not solve(domains):
        return None
    return [c for c in assigned if c is not None]


def _improve(chosen: list[_Candidate], domains: list[list[_Candidate]]) -> None:
    """Move each label to its cheapest place that meets none of the others, until nothing moves
    (every move lowers the total cost, so this ends)."""
    moved = True
    while moved:
        moved = False
        for index, domain in enumerate(domains):
            for candidate in domain:
                if candidate.cost >= chosen[index].cost:
                    break
                if not any(
                    candidate.reach.intersects(other.reach) for k, other in enumerate(chosen) if k != index
                ):
                    chosen[index] = candidate
                    moved = True
                    break


def place_largest(
    labels_at: Callable[[float], Sequence[EdgeLabel]],
    obstacles_at: Callable[[float], Sequence[Obstacle]],
    bounds: tuple[float, float],
    fonts: Sequence[float],
) -> tuple[float, list[Placement]] | None:
    """The largest font of ``fonts`` at which every label finds a place, with the placements;
    None when even the smallest fails (then show the weight matrix)."""
    for font in sorted(fonts, reverse=True):
        placed = place_labels(labels_at(font), obstacles_at(font), bounds, Clearance.for_font(font))
        if placed is not None:
            return font, placed
    return None
