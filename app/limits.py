"""Every bound the app enforces, defined once.

The engine, the session, the JSON schemas, the page's forms and the templates all read these, so a
bound changed here changes everywhere (the templates see this module as ``limits``). Standard
library only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A range of real numbers, [low, high] or, with ``low_open``, (low, high]."""

    low: float
    high: float
    low_open: bool = False

    def __contains__(self, value: float) -> bool:
        """Whether ``value`` lies in the range (NaN never does)."""
        above = self.low < value if self.low_open else self.low <= value
        return above and value <= self.high

    def __str__(self) -> str:
        """As the messages write it: ``(0, 100]``, ``[-1e+06, 1e+06]``."""
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------

#: Smallest and largest number of layers (input and output included); larger is refused so the
#: diagram stays legible.
MIN_LAYERS, MAX_LAYERS = 2, 6
#: Smallest and largest number of units in a layer.
MIN_UNITS, MAX_UNITS = 1, 8
#: Largest magnitude any input, target or parameter may have; beyond it a network is refused.
MAX_ABS_VALUE = 1e6
#: Where every input, target and parameter lies.
VALUE = Interval(-MAX_ABS_VALUE, MAX_ABS_VALUE)
#: The learning rate η lies in (0, MAX_LEARNING_RATE].
MAX_LEARNING_RATE = 100.0
LEARNING_RATE = Interval(0.0, MAX_LEARNING_RATE, low_open=True)
#: Seeds of the initial weights: 0 ..= MAX_SEED (numpy's generators take any 32-bit seed).
MAX_SEED = 2**32 - 1

# --------------------------------------------------------------------------------------------
# Training and history
# --------------------------------------------------------------------------------------------

#: Most epochs one training request (or background run) may ask for.
MAX_TRAIN_EPOCHS = 100_000
#: Most full steps one training request may run (epochs × samples per epoch in SGD mode).
MAX_TRAIN_STEPS = 1_000_000
#: Most updates a session keeps the loss of; beyond it training is refused until a reset.
MAX_LOSS_HISTORY = 2_000_000
#: Most states kept for undo and the timeline; older ones are thinned out.
MAX_HISTORY = 1000
#: The latest losses a session carries in its state (the rest are read from its history).
RECENT_LOSSES = 100
#: Most buckets in a history's loss envelope (and points of GET .../losses?points=).
MAX_BUCKETS = 1024
#: Most losses one page of GET .../losses returns.
MAX_LOSSES_PAGE = 100_000
#: Largest step ε of the central differences in the gradient check.
MAX_EPSILON = 1e-2

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

#: The most samples a dataset may hold (the diagram highlights one sample at a time).
MAX_SAMPLES = 256
#: Longest text of a user's table (characters): MAX_SAMPLES rows of 16 long numbers fit easily.
MAX_TABLE_CHARS = 65_536

# --------------------------------------------------------------------------------------------
# Requests, files and links
# --------------------------------------------------------------------------------------------

#: Largest request body the server reads, but for an import.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Largest JSON body of the API (but an import). The largest honest one, a table of 256 samples of
#: 8 inputs and 8 targets with full-precision numbers, pretty-printed, is under 300 KB; this bound
#: keeps what a hostile body costs to parse small (a 4 MB array of a million items, about 50 ms).
MAX_API_BODY_BYTES = 4 * 1024 * 1024
#: Most validation errors one answer lists (it says how many there were in all).
MAX_VALIDATION_ERRORS = 20
#: The largest import: above the largest export the server can write, 2,000,000 losses and 1,000
#: kept states of the largest network as JSON (61 MB; tests/web/test_api.py builds that export and
#: imports it back). Gzip-compressed uploads are decompressed up to it.
MAX_IMPORT_BYTES = 80 * 1024 * 1024
#: Largest form body the page accepts, URL-encoded (a typed table is the biggest honest one).
MAX_FORM_BYTES = 4 * MAX_TABLE_CHARS
#: The largest session file the page's import form reads, and room for the multipart envelope.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
UPLOAD_SLACK = 64 * 1024
#: Longest share token accepted (characters); most browsers and servers take URLs of 8 KB or more.
MAX_TOKEN_LENGTH = 8192
#: Most bytes a share token may decompress to.
MAX_SHARED_BYTES = 65536
