"""Transparent huge pages for the memory XLA:CPU allocates on every step (Linux, glibc).

XLA:CPU allocates each run of a compiled step's temporary buffer afresh: at the pixel-wise
MNIST shape (B 32, T 784, n 100) that is a ~110 MB mmap and munmap per training step, and the
kernel faults it in again 4 KB at a time (27K page faults, ~45 ms of system time per step on
this project's 2-core VM). glibc's ``glibc.malloc.hugetlb=1`` tunable (glibc >= 2.35) asks for
transparent huge pages on that memory instead: ~800 faults per step, and a pixel-wise training
step 20-25% faster (benchmarks/README.md). Small shapes, whose buffers glibc reuses, are
unaffected.

glibc reads tunables only at process start, so the entry points (``experiments/``,
``benchmarks/``) call ``use_huge_pages()`` first: it re-executes the process once with the
tunable added to ``GLIBC_TUNABLES``. ``GRUVAR_HUGE_PAGES=0`` turns it off; elsewhere (not Linux,
not glibc, THP disabled) it does nothing. In a notebook, set the variable before starting the
kernel: ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1 jupyter lab``.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

TUNABLE = "glibc.malloc.hugetlb"
OPT_OUT = "GRUVAR_HUGE_PAGES"
THP_MODE = "/sys/kernel/mm/transparent_hugepage/enabled"


def thp_mode(path: str = THP_MODE) -> str | None:
    """The kernel's THP mode ("always", "madvise" or "never"); None where unknown."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    chosen = [w for w in text.split() if w.startswith("[")]
    return chosen[0].strip("[]") if chosen else None


def _tunables(environ: Mapping[str, str]) -> dict[str, str]:
    """``GLIBC_TUNABLES`` ("name=value:name=value") as name -> value."""
    items = (t.partition("=") for t in environ.get("GLIBC_TUNABLES", "").split(":") if t)
    return {name: value for name, _, value in items}


def huge_pages_env(
    environ: Mapping[str, str], system: str, libc: str, thp_mode: str | None
) -> dict[str, str] | None:
    """The environment to re-execute with, or None when there is nothing to do: not Linux or
    not glibc, THP off or unknown, opted out with GRUVAR_HUGE_PAGES=0, or the tunable set."""
    if system != "Linux" or libc != "glibc" or thp_mode not in ("always", "madvise"):
        return None
    if environ.get(OPT_OUT) == "0" or TUNABLE in _tunables(environ):
        return None
    tunables = ":".join(t for t in (environ.get("GLIBC_TUNABLES"), f"{TUNABLE}=1") if t)
    return {**environ, "GLIBC_TUNABLES": tunables}


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the tunable is on (1, or 2 for hugetlbfs pages): what a benchmark reports."""
    return _tunables(environ).get(TUNABLE, "0") not in ("", "0")


def use_huge_pages() -> None:
    """Re-executes this process with ``glibc.malloc.hugetlb=1`` where it helps (see the module
    docstring); returns only when it does not. Call it first thing in an entry point."""
    env = huge_pages_env(os.environ, platform.system(), platform.libc_ver()[0], thp_mode())
    if env is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, sys.orig_argv, env)
