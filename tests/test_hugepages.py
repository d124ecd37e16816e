"""The entry points' re-execution with glibc's huge-page tunable (gruvar.hugepages)."""

import os
import platform
import subprocess
import sys

import pytest

from gruvar import hugepages

LINUX = {"system": "Linux", "libc": "glibc", "thp_mode": "madvise"}


def test_adds_the_tunable_and_keeps_the_rest_of_the_environment():
    env = hugepages.huge_pages_env({"PATH": "/bin"}, **LINUX)
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


def test_appends_to_tunables_already_set():
    env = hugepages.huge_pages_env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, **LINUX)
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"


@pytest.mark.parametrize(
    "environ, where",
    [
        ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, LINUX),  # the user's own choice stands
        ({"GRUVAR_HUGE_PAGES": "0"}, LINUX),
        ({}, {**LINUX, "system": "Darwin"}),
        ({}, {**LINUX, "libc": ""}),  # musl
        ({}, {**LINUX, "thp_mode": "never"}),
        ({}, {**LINUX, "thp_mode": None}),
    ],
)
def test_nothing_to_do(environ, where):
    assert hugepages.huge_pages_env(environ, **where) is None


@pytest.mark.parametrize("text, mode", [("always [madvise] never\n", "madvise"), ("", None)])
def test_thp_mode_reads_the_bracketed_choice(tmp_path, text, mode):
    path = tmp_path / "enabled"
    path.write_text(text)
    assert hugepages.thp_mode(str(path)) == mode
    assert hugepages.thp_mode(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "tunables, on",
    [
        ("glibc.malloc.hugetlb=1", True),
        ("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2", True),
        ("glibc.malloc.hugetlb=0", False),
        ("", False),
    ],
)
def test_enabled_reads_the_tunables_value(tunables, on):
    assert hugepages.enabled({"GLIBC_TUNABLES": tunables}) is on


_PROBE = "from gruvar import hugepages; hugepages.use_huge_pages(); print(hugepages.enabled())"


@pytest.mark.skipif(
    hugepages.huge_pages_env({}, platform.system(), platform.libc_ver()[0], hugepages.thp_mode())
    is None,
    reason="not Linux + glibc with transparent huge pages: use_huge_pages does nothing here",
)
@pytest.mark.parametrize("opt_out, expected", [(None, "True"), ("0", "False")])
def test_use_huge_pages_reexecutes_once_with_the_tunable(opt_out, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "GRUVAR_HUGE_PAGES")}
    if opt_out is not None:
        env["GRUVAR_HUGE_PAGES"] = opt_out
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [expected]
