"""Comparing variants: a grid of runs and its report (compare), run directories to tables and
tests (analysis), figures, RESULTS.md's and the zoo's tables, model-free baselines, best models.
Imports every layer below it (core, linen, data, training) and gruvar.cli; only entry points
import it."""
