"""Every variant as ``flax.nnx`` modules: a cell, stacked layers, the task heads.

The same recurrence as the linen modules (``gruvar.core.recurrence`` over the variant's compiled
plan, layers stacked by ``gruvar.core.frontend``), with the same paper-named parameters, shapes and
initialisers; only where the parameters live differs. A model's ``nnx.Param`` state has the
tree of the linen model's ``params``, so ``to_linen`` and ``from_linen`` convert either way::

    from flax import nnx
    import gruvar.nnx

    rnn = gruvar.nnx.RNN("gru3", 28, 100, num_layers=2, bidirectional=True, rngs=nnx.Rngs(0))
    outputs, carries = rnn(x, lengths)                 # as gruvar.RNN(...).apply
    variables = gruvar.nnx.to_linen(rnn)               # {"params": {"layer_0_fwd": ...}}
    gruvar.nnx.from_linen(rnn, variables)              # a linen checkpoint into the model

Unlike linen, NNX creates parameters when a module is built, so each module takes its input
width (``in_features``) and ``rngs``. Like ``gruvar.linen``, this front end imports
``gruvar.core`` alone: the two are siblings on one core, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gruvar.core import frontend, mixture, recurrence, variants
from gruvar.core.variants import Variant

Array = jax.Array
Initializer = frontend.Initializer
inits = frontend.inits
# The linen cell's and heads' default initialisers, built once (not in each signature).
LECUN_NORMAL = inits.lecun_normal()
ORTHOGONAL = inits.orthogonal()
UNIFORM_0_1 = inits.uniform(1.0)


class Cell(nnx.RNNCellBase):
    """One recurrent layer of any variant: an ``nnx.RNNCellBase`` with a fast ``scan``.

    ``cell(carry, x_t) -> (carry, h_t)`` runs one step, so the cell drops into ``flax.nnx.RNN``;
    ``cell.scan(x)`` runs a whole sequence through ``gruvar.core.recurrence``. The parameters are
    attributes named after the paper (``cell.W_z``, ``cell.U_h``, ...), kernels [in, out].
    Keywords and defaults are ``gruvar.Cell``'s: ``candidate_recurrent_init``, when given,
    initialises the candidate's U in place of ``recurrent_kernel_init``; diagonal weights u
    start U(0, 1), an LSTM's forget-gate bias at ``forget_bias``, batch-norm scales at 1.
    """

    def __init__(
        self,
        variant: str | Variant,
        in_features: int,
        features: int,
        *,
        gate_fn: Callable[[Array], Array] = jax.nn.sigmoid,
        kernel_init: Initializer = LECUN_NORMAL,
        recurrent_kernel_init: Initializer = ORTHOGONAL,
        candidate_recurrent_init: Initializer | None = None,
        bias_init: Initializer = inits.zeros,
        peephole_init: Initializer = inits.zeros,
        diagonal_init: Initializer = UNIFORM_0_1,
        forget_bias: float = 1.0,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.variant = variants.get(variant)
        self.in_features, self.features = in_features, features
        self.gate_fn = gate_fn
        self.param_dtype = param_dtype
        shapes_inits = frontend.param_inits(
            self.variant,
            in_features,
            features,
            kernel_init=kernel_init,
            recurrent_kernel_init=recurrent_kernel_init,
            candidate_recurrent_init=candidate_recurrent_init,
            bias_init=bias_init,
            peephole_init=peephole_init,
            diagonal_init=diagonal_init,
            forget_bias=forget_bias,
        )
        self.param_names = tuple(shapes_inits)
        for name, (shape, init) in shapes_inits.items():
            setattr(self, name, nnx.Param(init(rngs.params(), shape, param_dtype)))

    def params(self) -> dict[str, Array]:
        """The paper-named parameters as arrays, what ``gruvar.core.recurrence`` reads."""
        return {name: getattr(self, name)[...] for name in self.param_names}

    def __call__(self, carry: Any, x_t: Array) -> tuple[Any, Array]:
        """One step: x_t [..., in] and the carry [..., features] to (new carry, h_t)."""
        self._check_width(x_t)
        return recurrence.step(self.variant.plan, self.gate_fn, self.params(), carry, x_t)

    def scan(self, x: Array, lengths: Array | None = None, **options: Any) -> tuple[Array, Any]:
        """The whole sequence x [batch, time, in] at once: ``recurrence.scan`` with this cell's
        parameters; ``options`` are its keywords (reverse, unroll, initial_carry, mode)."""
        self._check_width(x)
        return recurrence.scan(
            self.variant.plan, self.gate_fn, self.params(), x, lengths, **options
        )

    def initialize_carry(self, input_shape: tuple[int, ...], rngs: Any = None) -> Any:
        """Zero state for inputs of shape [*batch, in] (h_0 = 0, and c_0 = 0 for an LSTM)."""
        del rngs
        shape = (*input_shape[:-1], self.features)
        return self.variant.family.zeros_carry(shape, self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1

    def _check_width(self, x: Array) -> None:
        if x.ndim and x.shape[-1] != self.in_features:
            raise ValueError(
                f"This cell was built for in_features={self.in_features}; got inputs of shape "
                f"{tuple(x.shape)}."
            )


class RNN(nnx.Module):
    """``num_layers`` recurrent layers of ``variant``, each ``features`` units per direction.

    Maps x [batch, time, in_features] and optional ``lengths`` [batch] to ``(outputs,
    carries)`` exactly as ``gruvar.RNN`` does: outputs [batch, time, features] (2·features when
    bidirectional), zero past each sequence's length, one final carry per layer (a (forward,
    backward) pair when bidirectional). Cells are attributes ``layer_<l>`` (``layer_<l>_fwd`` /
    ``_bwd``), the names the linen model's parameters have. ``cell_kwargs`` go to every
    ``Cell``; ``scan``: ``auto``, ``sequential`` or ``parallel`` (see ``gruvar.RNN``).
    """

    def __init__(
        self,
        variant: str | Variant,
        in_features: int,
        features: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        unroll: int = 1,
        cell_kwargs: dict[str, Any] | None = None,
        scan: str = "auto",
        rngs: nnx.Rngs,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
        self.variant = variants.get(variant)
        recurrence.resolve_mode(self.variant.plan, scan)  # a bad mode fails here, not at call
        self.in_features, self.features = in_features, features
        self.num_layers, self.bidirectional = num_layers, bidirectional
        self.unroll, self.scan = unroll, scan
        self.directions = ("_fwd", "_bwd") if bidirectional else ("",)
        width = in_features
        for layer in range(num_layers):
            for d in self.directions:
                cell = Cell(self.variant, width, features, rngs=rngs, **(cell_kwargs or {}))
                setattr(self, f"layer_{layer}{d}", cell)
            width = self.out_features

    @property
    def out_features(self) -> int:
        """The width of the outputs: features, times 2 when bidirectional."""
        return self.features * len(self.directions)

    def __call__(self, x: Array, lengths: Array | None = None) -> tuple[Array, tuple[Any, ...]]:
        mode = recurrence.resolve_mode(self.variant.plan, self.scan)
        layers = [
            [getattr(self, f"layer_{layer}{d}") for d in self.directions]
            for layer in range(self.num_layers)
        ]
        return frontend.stack(layers, x, lengths, unroll=self.unroll, mode=mode)

    def final_hidden(self, carries: tuple[Any, ...]) -> Array:
        """The last layer's final hidden state [batch, out_features]."""
        return frontend.final_hidden(self.variant, carries, self.bidirectional)


class SequenceClassifier(nnx.Module):
    """Logits from the final state: y = W_out h_T + b_out, h_T each sequence's last valid state.

    With ``vocab_size`` set, x holds token ids [batch, time] and goes through an embedding of
    ``embed_dim`` (= ``rnn.in_features``) first. Parameters ``rnn``, ``head`` and ``embed``,
    as ``gruvar.SequenceClassifier``'s.
    """

    def __init__(
        self,
        rnn: RNN,
        num_classes: int,
        *,
        vocab_size: int | None = None,
        embed_dim: int | None = None,
        kernel_init: Initializer = LECUN_NORMAL,
        rngs: nnx.Rngs,
    ):
        if vocab_size is not None:
            if embed_dim is None:
                raise ValueError("SequenceClassifier with vocab_size needs embed_dim.")
            if embed_dim != rnn.in_features:
                raise ValueError(
                    f"embed_dim={embed_dim} must be the rnn's in_features={rnn.in_features}."
                )
            self.embed = nnx.Embed(vocab_size, embed_dim, rngs=rngs)
        else:
            self.embed = None
        self.rnn = rnn
        self.head = nnx.Linear(rnn.out_features, num_classes, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, x: Array, lengths: Array | None = None) -> Array:
        if self.embed is not None:
            x = self.embed(x)
        _, carries = self.rnn(x, lengths)
        return self.head(self.rnn.final_hidden(carries))


class FramePredictor(nnx.Module):
    """Per-step logits: y_t = W_out h_t + b_out (e.g. 88 Bernoulli logits of frame t+1)."""

    def __init__(
        self,
        rnn: RNN,
        out_features: int,
        *,
        kernel_init: Initializer = LECUN_NORMAL,
        rngs: nnx.Rngs,
    ):
        self.rnn = rnn
        self.head = nnx.Linear(rnn.out_features, out_features, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, x: Array, lengths: Array | None = None) -> Array:
        outputs, _ = self.rnn(x, lengths)
        return self.head(outputs)


class MixtureDensityHead(nnx.Module):
    """h [..., in_features] -> raw mixture parameters [..., K(1 + 2D)], as
    ``gruvar.MixtureDensityHead`` (its one dense layer is ``dense``; read by
    ``gruvar.core.mixture``)."""

    def __init__(
        self,
        in_features: int,
        components: int = 20,
        dims: int = 10,
        *,
        kernel_init: Initializer = LECUN_NORMAL,
        rngs: nnx.Rngs,
    ):
        width = mixture.num_params(components, dims)
        self.dense = nnx.Linear(in_features, width, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, h: Array) -> Array:
        return self.dense(h)


class MixturePredictor(nnx.Module):
    """Per-step mixture parameters of frame t+1, as ``gruvar.MixturePredictor``."""

    def __init__(
        self,
        rnn: RNN,
        dims: int,
        components: int = 20,
        *,
        kernel_init: Initializer = LECUN_NORMAL,
        rngs: nnx.Rngs,
    ):
        self.rnn = rnn
        self.head = MixtureDensityHead(
            rnn.out_features, components, dims, kernel_init=kernel_init, rngs=rngs
        )

    def __call__(self, x: Array, lengths: Array | None = None) -> Array:
        outputs, _ = self.rnn(x, lengths)
        return self.head(outputs)


def to_linen(model: nnx.Module | nnx.State) -> dict[str, Any]:
    """The linen variables ``{"params": ...}`` of a model's parameters (or of its ``nnx.State``,
    e.g. from ``nnx.split``): what the linen module of the same configuration (``gruvar.RNN``,
    a head) takes in ``apply`` and a run's checkpoint holds. The arrays are the model's own."""
    state = model if isinstance(model, nnx.State) else nnx.state(model, nnx.Param)
    return {"params": nnx.to_pure_dict(state)}


def from_linen(model: nnx.Module, variables: dict[str, Any]) -> nnx.Module:
    """Sets ``model``'s parameters from linen ``variables`` (``{"params": ...}`` or the params
    tree itself, e.g. a run's ``gruvar.comparison.best.restore(run_dir)[2].params``) and returns it.
    ValueError, naming the paths, when the trees differ in a name or a shape: a checkpoint of
    another variant, width or head does not load silently."""
    params = variables.get("params", variables)
    state = nnx.state(model, nnx.Param)
    want = _shapes(nnx.to_pure_dict(state))
    got = _shapes(params)
    if want != got:
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        shapes = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        raise ValueError(
            "The linen parameters do not fit this model: "
            f"missing {missing}, unexpected {extra}, "
            f"shape differs at {[(k, got[k], want[k]) for k in shapes]} (given, wanted)."
        )
    nnx.replace_by_pure_dict(state, jax.tree.map(jnp.asarray, params))
    nnx.update(model, state)
    return model


def _shapes(tree: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """'/'-joined path: shape of every array in a nested dict."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(str(k.key) for k in path): np.shape(leaf) for path, leaf in flat}
