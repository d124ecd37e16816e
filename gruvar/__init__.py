"""gruvar: gated recurrent network variants as data, on one fast jitted JAX recurrence.

The modules here are ``flax.linen``; ``gruvar.nnx`` has the same ones as ``flax.nnx`` modules.
The package's layers, an arrow only pointing down: ``comparison`` -> ``training`` -> ``linen`` /
``nnx`` -> ``core``, with ``data`` beside the core (the README's Layout section maps them).
"""

import importlib

from gruvar.core import families, gates, mixture, recurrence, variants
from gruvar.core.variants import VARIANTS, Variant, variant
from gruvar.linen import cells
from gruvar.linen.cells import Cell, make
from gruvar.linen.models import (
    RNN,
    FramePredictor,
    MixtureDensityHead,
    MixturePredictor,
    SequenceClassifier,
)

__all__ = [
    "RNN",
    "VARIANTS",
    "Cell",
    "FramePredictor",
    "MixtureDensityHead",
    "MixturePredictor",
    "SequenceClassifier",
    "Variant",
    "cells",
    "families",
    "gates",
    "make",
    "mixture",
    "nnx",
    "recurrence",
    "variant",
    "variants",
]


def __getattr__(name: str):
    # gruvar.nnx on first use, so the linen-only paths (experiments/, sweeps) skip flax.nnx.
    if name == "nnx":
        return importlib.import_module("gruvar.nnx")
    raise AttributeError(f"module 'gruvar' has no attribute {name!r}")
