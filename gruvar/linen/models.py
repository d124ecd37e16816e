"""Recurrent layers and task heads on the fast recurrence.

``RNN`` stacks layers of one variant, optionally bidirectional; the heads put a dense layer on
top: ``SequenceClassifier`` reads the final state (MNIST, IMDB), ``FramePredictor`` every step
(next-frame prediction on piano rolls), ``MixturePredictor`` every step through a
``MixtureDensityHead`` (a density over real-valued frames: raw audio).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax

from gruvar.core import frontend, mixture, variants
from gruvar.core.recurrence import resolve_mode
from gruvar.core.variants import Variant
from gruvar.linen.cells import Cell

Array = jax.Array


class RNN(nn.Module):
    """``num_layers`` recurrent layers of ``variant``, each ``features`` units per direction.

    Maps x [batch, time, in] and optional ``lengths`` [batch] to ``(outputs, carries)``:
    outputs [batch, time, features] (2·features when bidirectional: forward then backward),
    zero past each sequence's length; ``carries`` has one entry per layer, the layer's final
    carry (a ``(forward, backward)`` pair when bidirectional). Layer l > 0 reads the outputs
    of layer l - 1. Parameters live under ``layer_<l>`` (``layer_<l>_fwd`` / ``_bwd`` when
    bidirectional) with the cell's paper names.

    ``cell_kwargs`` go to every ``Cell`` (initialisers, ``gate_fn``, ``forget_bias``, ...).
    ``scan``: ``auto`` (parallel in time for a variant linear in its state on a GPU or TPU,
    else sequential), ``sequential`` or ``parallel`` (an error for a variant that reads h).
    """

    variant: str | Variant
    features: int
    num_layers: int = 1
    bidirectional: bool = False
    unroll: int = 1
    cell_kwargs: dict[str, Any] | None = None
    scan: str = "auto"

    @nn.compact
    def __call__(self, x: Array, lengths: Array | None = None) -> tuple[Array, tuple[Any, ...]]:
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {self.num_layers}.")
        mode = resolve_mode(variants.get(self.variant).plan, self.scan)
        kwargs = dict(self.cell_kwargs or {})
        directions = ("_fwd", "_bwd") if self.bidirectional else ("",)
        layers = [
            [
                Cell(self.variant, self.features, name=f"layer_{layer}{d}", **kwargs)
                for d in directions
            ]
            for layer in range(self.num_layers)
        ]
        return frontend.stack(layers, x, lengths, unroll=self.unroll, mode=mode)

    def final_hidden(self, carries: tuple[Any, ...]) -> Array:
        """The last layer's final hidden state [batch, features] (both directions concatenated)."""
        return frontend.final_hidden(variants.get(self.variant), carries, self.bidirectional)


class SequenceClassifier(nn.Module):
    """Logits from the final state: y = W_out h_T + b_out, h_T each sequence's last valid state.

    With ``vocab_size`` set, x holds token ids [batch, time] and goes through an embedding of
    ``embed_dim`` first (IMDB). ``num_classes = 1`` gives one logit (binary tasks).
    """

    rnn: RNN
    num_classes: int
    vocab_size: int | None = None
    embed_dim: int | None = None
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: Array, lengths: Array | None = None) -> Array:
        if self.vocab_size is not None:
            if self.embed_dim is None:
                raise ValueError("SequenceClassifier with vocab_size needs embed_dim.")
            x = nn.Embed(self.vocab_size, self.embed_dim, name="embed")(x)
        _, carries = self.rnn(x, lengths)
        head = nn.Dense(self.num_classes, kernel_init=self.kernel_init, name="head")
        return head(self.rnn.final_hidden(carries))


class FramePredictor(nn.Module):
    """Per-step logits: y_t = W_out h_t + b_out (e.g. 88 Bernoulli logits of frame t+1)."""

    rnn: RNN
    out_features: int
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: Array, lengths: Array | None = None) -> Array:
        outputs, _ = self.rnn(x, lengths)
        return nn.Dense(self.out_features, kernel_init=self.kernel_init, name="head")(outputs)


class MixtureDensityHead(nn.Module):
    """h [..., n] -> the raw parameters [..., K(1 + 2D)] of a mixture of ``components`` (K)
    Gaussians with diagonal covariance over ``dims`` (D) values: one dense layer, read by
    ``gruvar.core.mixture`` (``mixture.unpack`` for π, μ, σ; ``mixture.nll`` for the loss).
    Chung et al. 2014's speech head: K = 20 over the D = 10 samples a step predicts."""

    components: int = 20
    dims: int = 10
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, h: Array) -> Array:
        width = mixture.num_params(self.components, self.dims)
        return nn.Dense(width, kernel_init=self.kernel_init, name="dense")(h)


class MixturePredictor(nn.Module):
    """Per-step mixture parameters of frame t+1 (``MixtureDensityHead`` on every output)."""

    rnn: RNN
    dims: int
    components: int = 20
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: Array, lengths: Array | None = None) -> Array:
        outputs, _ = self.rnn(x, lengths)
        head = MixtureDensityHead(self.components, self.dims, self.kernel_init, name="head")
        return head(outputs)
