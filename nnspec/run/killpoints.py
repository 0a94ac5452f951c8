"""run.killpoints: a named stage of a run -> (in tests only) the process killed outright there.

The kill -9 contract (docs/runs.md: after a kill at any moment, `--resume` works) is tested
by killing runs at named stages. `NNSPEC_TEST_KILL_AT=<stage>` (or `<stage>#<n>`: the n-th
time that stage is reached) makes the process send itself SIGKILL when it gets there. Stages:

- `importing`: the run folder is claimed and its manifest written; the data and backend
  modules are about to be imported;
- `data`: the data is about to be read;
- `compiling`: the kernels are about to be compiled (or loaded from Numba's cache);
- `training`: an epoch's row was just appended to the history; `training-no-checkpoint` /
  `training-checkpoint`: the same, before / after the run's first checkpoint;
- `finishing`: training ended (its last checkpoint written), the artifacts are next;
- `write:<file>`: the new content of `<file>` (manifest.json, spec.nn, data.json,
  weights.npz, history.json, history.csv, metrics.json, curves.png, state.json,
  state-<tag>.npz) is written to its temporary file and fsynced, not yet renamed;
- `append:history.csv`: an epoch's row is about to be appended to the history log.

The same stages serve a second hook, for faults in the middle of a run (docs/runs.md):
`NNSPEC_TEST_FAULT_AT=<stage>[#<n>]=<ERRNO>` (for example `write:state.json#2=ENOSPC`, or
`append:history.csv#3=EROFS`) raises the OSError that errno names there, as the write
would have raised it on a full disk or a read-only file system. It is a simulation: the
error comes from this hook, at the moment the real write would fail, and takes the same path
through nnspec as a real one.

Without the variables `reached` is two lookups in the dictionary os.environ writes through
to (os.environ.get encodes the name first: ~1.5 us a call, and a run reaches three stages an
epoch).
"""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

VARIABLE = "NNSPEC_TEST_KILL_AT"
FAULT = "NNSPEC_TEST_FAULT_AT"
_counts: dict[str, int] = {}


def _raw_names() -> tuple[Any, tuple[Any, ...]] | None:
    """os.environ's underlying dictionary and the two names as its keys (CPython's os:
    `_data`, `encodekey`; it is the same dictionary for the life of the process, so a
    variable set later, as tests set them, is seen), or None where that is not so."""
    data, encode = getattr(os.environ, "_data", None), getattr(os.environ, "encodekey", None)
    if not isinstance(data, dict) or encode is None:
        return None
    try:
        return data, (encode(VARIABLE), encode(FAULT))
    except Exception:  # noqa: BLE001 - an os module unlike CPython's: the plain lookups
        return None


_RAW = _raw_names()


def _due(want: str, stage: str) -> bool:
    """Whether `want` (`<stage>[#<n>]`, `*` at the end matching any suffix) is due now."""
    name, _, nth = want.partition("#")
    if name != stage and not (name.endswith("*") and stage.startswith(name[:-1])):
        return False
    _counts[want] = _counts.get(want, 0) + 1
    return _counts[want] == int(nth or 1)


def reached(stage: str) -> None:
    if _RAW is not None and _RAW[1][0] not in _RAW[0] and _RAW[1][1] not in _RAW[0]:
        return
    want = os.environ.get(VARIABLE)
    if want and _due(want, stage):
        os.kill(os.getpid(), signal.SIGKILL)
    fault = os.environ.get(FAULT)
    if fault:
        where, _, name = fault.rpartition("=")
        if _due(where, stage):
            code = getattr(errno, name)
            raise OSError(code, os.strerror(code))
