"""The recurrent layer of any variant as a ``flax.linen`` cell, with a fast whole-sequence scan.

Families and their equations live in ``gruvar.core.families`` (and
``gruvar.core.fixed_families``), the part-spec grammar in ``gruvar.core.gates``, variants and
the named registry in ``gruvar.core.variants``; this module re-exports the latter's
``VARIANTS``, ``Variant``, ``variant`` and ``get``::

    cells.variant("gru", z="hb", r="xhb")       # or the string form "gru:z=hb,r=xhb"
    cells.VARIANTS["gru_hz"] = cells.variant("gru", "h", r="xhb")   # register it by name

Parameters are named after the papers' symbols (``W_z``, ``U_z``, ``u_z``, ``V_i``, ``b_z``,
..., candidate ``W_h`` / ``W_c`` / ``W``), kernels shaped [in, out], diagonal weights [n].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gruvar.core import frontend, recurrence
from gruvar.core.families import FAMILIES, Family
from gruvar.core.fixed_families import FIXED_FAMILIES
from gruvar.core.variants import VARIANTS, Variant, get, variant

__all__ = [
    "FAMILIES",
    "FIXED_FAMILIES",
    "VARIANTS",
    "Cell",
    "Family",
    "Variant",
    "get",
    "make",
    "variant",
]

Array = jax.Array


class Cell(nn.RNNCellBase):
    """One recurrent layer of any variant: a ``flax.linen.RNNCellBase`` with a fast ``scan``.

    ``cell(carry, x_t) -> (carry, h_t)`` runs one step, so the cell drops into
    ``flax.linen.RNN``; ``cell.scan(x)`` runs a whole sequence through ``gruvar.core.recurrence``
    with the same parameters. ``candidate_recurrent_init``, when given, initialises the
    candidate's U (``U``, ``U_h``, ``U_c``: the one inside the tanh) in place of
    ``recurrent_kernel_init``. Diagonal recurrent weights u start U(0, 1) (``diagonal_init``),
    FGR's R like U, batch-norm scales at 1.
    """

    variant: str | Variant
    features: int
    gate_fn: Callable[[Array], Array] = nn.sigmoid
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: nn.initializers.Initializer = nn.initializers.orthogonal()
    candidate_recurrent_init: nn.initializers.Initializer | None = None
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    peephole_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    diagonal_init: nn.initializers.Initializer = nn.initializers.uniform(1.0)
    forget_bias: float = 1.0
    param_dtype: Any = jnp.float32

    @property
    def resolved(self) -> Variant:
        return get(self.variant)

    @nn.compact
    def params_for(self, in_features: int) -> dict[str, Array]:
        """The paper-named parameters of this layer, created on first use."""
        shapes_inits = frontend.param_inits(
            self.resolved,
            in_features,
            self.features,
            kernel_init=self.kernel_init,
            recurrent_kernel_init=self.recurrent_kernel_init,
            candidate_recurrent_init=self.candidate_recurrent_init,
            bias_init=self.bias_init,
            peephole_init=self.peephole_init,
            diagonal_init=self.diagonal_init,
            forget_bias=self.forget_bias,
        )
        params = {}
        for name, (shape, init) in shapes_inits.items():
            params[name] = self.param(name, init, shape, self.param_dtype)
        return params

    def __call__(self, carry: Any, x_t: Array) -> tuple[Any, Array]:
        """One step: x_t [..., in] and the carry [..., features] to (new carry, h_t)."""
        params = self.params_for(x_t.shape[-1])
        return recurrence.step(self.resolved.plan, self.gate_fn, params, carry, x_t)

    def scan(
        self,
        x: Array,
        lengths: Array | None = None,
        *,
        reverse: bool = False,
        unroll: int = 1,
        initial_carry: Any = None,
        mode: str = "auto",
    ) -> tuple[Array, Any]:
        """The whole sequence x [batch, time, in] at once; see ``recurrence.scan`` (``mode``:
        auto, sequential or parallel)."""
        params = self.params_for(x.shape[-1])
        return recurrence.scan(
            self.resolved.plan,
            self.gate_fn,
            params,
            x,
            lengths,
            reverse=reverse,
            unroll=unroll,
            initial_carry=initial_carry,
            mode=mode,
        )

    @nn.nowrap
    def initialize_carry(self, rng: Array, input_shape: tuple[int, ...]) -> Any:
        """Zero state for inputs of shape [*batch, in] (h_0 = 0, and c_0 = 0 for an LSTM)."""
        del rng
        shape = (*input_shape[:-1], self.features)
        return self.resolved.family.zeros_carry(shape, self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1


def make(name_or_spec: str | Variant, features: int, **kwargs: Any) -> Cell:
    """A ``Cell`` of the named (or spec-defined) variant with ``features`` units."""
    return Cell(variant=get(name_or_spec), features=features, **kwargs)
