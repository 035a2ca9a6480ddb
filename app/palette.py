"""The colours every drawing shares: blue for positive, orange for negative (safe for red-green
colour blindness), and blends of them with white."""

from __future__ import annotations

POSITIVE = "#1c5fb8"  # blue: positive weights, activations and outputs
NEGATIVE = "#c2410c"  # orange: negative ones


def mix(colour: str, amount: float) -> str:
    """``colour`` (``#rrggbb``) blended with white: amount 0 is white, 1 the colour itself."""
    amount = min(max(amount, 0.0), 1.0)
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 + (c - 255) * amount):02x}" for c in (r, g, b))


#: The page's colours for δ and gradients, and for new values (static/app.css uses the same):
#: magenta and green, told apart by people with deuteranopia too (a purple would turn into the
#: positive blue for them), each at WCAG AA contrast on its theme's background.
GRADIENT = "#9d1d8f"
NEW = "#17803d"
GRADIENT_DARK = "#f07ae4"
NEW_DARK = "#5fd38a"
