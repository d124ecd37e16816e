"""The ``flax.linen`` front end: every variant as a cell (cells) and as stacked, bidirectional
layers with the task heads (models), both running the core's recurrence.
Imports gruvar.core only: never gruvar.nnx (its sibling front end), training or data."""
