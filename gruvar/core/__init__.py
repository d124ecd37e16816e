"""The variant core, in plain JAX: the part-spec grammar (gates), cell families, variants and
their registry compiled to a plan, the recurrence that runs a plan (sequential, linear, parallel
scan), and what both Flax front ends share (frontend). Imports nothing else of gruvar."""
