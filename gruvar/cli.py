"""What every entry point in ``experiments/`` shares: a mistake the user can fix is one line on
stderr and exit status 1; a bug keeps its traceback.

gruvar's contract for bad input (a config value, a variant spec, a flag's value, missing or
damaged data, a diverged run) is an exception whose message names the bad part and what to do:
a ``ValueError``, ``FileNotFoundError``, ``ImportError`` (an optional extra not installed) or
``FloatingPointError`` (a run diverged), raised by a ``raise`` statement in gruvar or in a
config file or entry point. ``user_error`` tells those apart from the same types raised inside
numpy, jax, orbax, ... (a bug here, or theirs), which keep their traceback. So the library
needs no error class of its own, and a test of a ``ValueError`` still tests what a user sees.

    if __name__ == "__main__":
        cli.run(main)
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Callable

import jax
from absl import app, flags

USER_ERRORS = (ValueError, FileNotFoundError, ImportError, FloatingPointError)
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_INSTALLED = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})  # libraries, stdlib


def user_error(err: BaseException) -> bool:
    """Whether ``err`` is one of ``USER_ERRORS`` that gruvar, a config file or an entry point
    raised itself (its innermost frame is a ``raise`` statement in one of their files)."""
    if not isinstance(err, USER_ERRORS) or err.__traceback__ is None:
        return False
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = os.path.abspath(tb.tb_frame.f_code.co_filename)
    ours = path.startswith(_PACKAGE + os.sep) or not path.startswith(_INSTALLED)
    return ours and linecache.getline(path, tb.tb_lineno).lstrip().startswith("raise")


def run(main: Callable[[list[str]], None]) -> None:
    """``absl.app.run(main)``, with a user error printed as ``error: <message>`` (exit 1), in
    ``main`` or in a config file that ``--config`` loads while the flags are parsed.

    Matmuls run in full float32 (``jax_default_matmul_precision``): on Ampere and later GPUs
    JAX's default is TF32, which the papers' float32 models and gruvar's float32 checks do not
    assume (``benchmarks/README.md``, GPU section). On a CPU this changes nothing.
    """

    def checked(argv: list[str]) -> None:
        jax.config.update("jax_default_matmul_precision", "float32")
        try:
            main(argv)
        except USER_ERRORS as err:
            if not user_error(err):
                raise
            _fail(str(err))

    app.run(checked, flags_parser=_parse_flags)


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, with ml_collections' ways of reporting a ``--config`` mistake made
    one line: a config file's user error (reported with its traceback inside the flag's
    message), an override of a field that does not exist (a raw AttributeError), a config
    file that cannot be read (an OSError deferred to the config's first use)."""
    try:
        args = flags.FLAGS(argv)
    except flags.Error as err:
        cause = err
        while cause.__context__ is not None:  # flag error <- config_flags' <- the config's
            cause = cause.__context__
        if cause is not err and user_error(cause):
            _fail(f"{str(err).partition(': ')[0].removeprefix('flag ')}: {cause}")
        print(f"FATAL Flags parsing error: {err}", file=sys.stderr)  # as absl's own parser
        print("Pass --helpshort or --helpfull to see help on flags.", file=sys.stderr)
        sys.exit(1)
    except (AttributeError, KeyError) as err:
        if not _raised_in(err, "ml_collections"):
            raise
        message = err
        while isinstance(message, BaseException) and message.args:  # AttributeError(KeyError)
            message = message.args[0]
        _fail(f"a --config.<field> override names no field: {_one_line(message)}")
    for name in flags.FLAGS:
        flag = flags.FLAGS[name]
        if hasattr(flag, "config_filename") and flag.value is not None:  # a config flag
            try:
                flag.value.to_dict  # noqa: B018 (raises the deferred error, if any)
            except OSError as err:
                _fail(f"--{name}: {_one_line(err)}")
    return args


def _raised_in(err: BaseException, package: str) -> bool:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"{os.sep}{package}{os.sep}" in tb.tb_frame.f_code.co_filename


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)
