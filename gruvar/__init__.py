"""gruvar: gated recurrent network variants as data, on one fast jitted JAX recurrence."""

from gruvar import cells, gates, recurrence
from gruvar.cells import VARIANTS, Cell, Variant, make, variant
from gruvar.models import RNN, FramePredictor, SequenceClassifier

__all__ = [
    "RNN",
    "VARIANTS",
    "Cell",
    "FramePredictor",
    "SequenceClassifier",
    "Variant",
    "cells",
    "gates",
    "make",
    "recurrence",
    "variant",
]
