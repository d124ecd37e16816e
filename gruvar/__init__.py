"""gruvar: gated recurrent network variants as data, on one fast jitted JAX recurrence."""

from gruvar import cells, families, gates, recurrence, variants
from gruvar.cells import Cell, make
from gruvar.models import RNN, FramePredictor, SequenceClassifier
from gruvar.variants import VARIANTS, Variant, variant

__all__ = [
    "RNN",
    "VARIANTS",
    "Cell",
    "FramePredictor",
    "SequenceClassifier",
    "Variant",
    "cells",
    "families",
    "gates",
    "make",
    "recurrence",
    "variant",
    "variants",
]
