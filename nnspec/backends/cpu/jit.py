"""backends.cpu.jit: Python kernel -> Numba kernel, with the one set of options for all.

- cache=True: compiled code is kept on disk, so a second run does not compile.
- error_model="numpy": division by zero gives inf/NaN instead of raising, which lets LLVM
  vectorise loops with divisions (the Adam update) and lets the engine report non-finite
  values itself.
- fastmath without nnan/ninf: reassociation and reciprocal math are allowed, but NaN and inf
  keep their meaning, so non-finite detection still works. Without "contract" either: with
  FMA contraction the code Numba loads from its cache rounded differently from the code it
  had just compiled (measured), which broke bit-identical runs.
- nogil: BLAS threads and other Python threads can run while a chunk trains.
- Calls between kernels ignore literal arguments: Numba would otherwise compile a callee
  once per call site that passes a constant (`f(x, 0)` and `f(x, off)`, `g(True)` and
  `g(False)` are three specializations), each typed, optimised and cached on its own: the
  universal engine (engine.py) compiled 139 functions, 100 without the literal copies. A
  literal argument is converted to its plain type at the call, as any other argument.
- `@kernel(inline=True)` (engine.forward, backward, backward_graph: the per-batch passes,
  called once or twice per entry point) inlines the kernel's body into its callers before
  typing, instead of compiling it as a function of its own. Numba links a called kernel's
  whole subtree into each caller's module and optimises and compiles that module again, so
  every level of calls between the entry points and the layer kernels re-did the work
  below it: the three passes' own compiles were ~10 s of the ~60 s first compile, of
  which the entry points absorb about half (measured, whole first run with an empty cache,
  two interleaved pairs: 62.6 / 58.9 s before, 58.9 / 53.3 s after; the cache 9.8 -> 7.9
  MB; training and evaluation calls a few per cent faster). Called from Python (the
  non-finite locator, nonfinite.py) they compile on their own, as before.

- A kernel compiled because another kernel calls it skips the module-level optimisation
  (`_optimise_only_entry_points`): what runs is the machine code of the entry points
  (engine.train_chunk, engine.infer), into whose modules every callee is linked and
  optimised together anyway, so optimising each callee's module on its own first, and each
  level above it again, was work no run used: ~24 s of LLVM work in the ~47 s first compile
  went to finishing the ~130 modules, 6 s of it the two entry points'. The callees' own
  machine code (called from Python only by tests and the non-finite locator) is then less
  optimised; the entry points are optimised as before, over the whole engine at once, and
  their linked-in copies of the callees renamed (`_rename_callees`) so that no call of
  theirs binds to a callee's own, unoptimised, machine code.

Numba's cache checks only the timestamp of the file defining a function, not of the kernels
it calls and inlines nor of the constants it imports (lower/plan.py codes), so editing one
kernel could leave a stale compiled engine in use. `drop_stale_cache()` (run on import)
hashes every source the kernels depend on and empties the cache folder when it changed
(`cache_dir()`: __pycache__, or the folder for these sources inside NUMBA_CACHE_DIR).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from numba import njit
from numba.core import types

FASTMATH = {"nsz", "arcp", "afn", "reassoc"}
JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)


def kernel(fn=None, *, inline: bool = False, fastmath=None):  # type: ignore[no-untyped-def]
    """@njit with the project's options; calls from other kernels compiled for their
    arguments' plain types, or inlined into them with inline=True (see the module
    docstring). `fastmath` replaces FASTMATH for a kernel whose arithmetic must be done as
    written (approx.exp32's range reduction: reassociated, it loses the low bits)."""
    if fn is None:
        return lambda f: kernel(f, inline=inline, fastmath=fastmath)
    options = dict(JIT) if fastmath is None else dict(JIT, fastmath=fastmath)
    dispatcher = _plain_argument_types(njit(**options, inline="always" if inline else "never")(fn))
    _load_without_refresh(dispatcher)
    return dispatcher


def parallel_kernel(fn):  # type: ignore[no-untyped-def]
    """@njit(parallel=True) with the project's options (a prange region on the engine's
    threads), called from kernels with their arguments' plain types as kernel's are: each
    signature of a parallel region is a whole gufunc to compile (~1-2 s of a first run), and a
    literal argument (a 0, a True) would otherwise compile the region once more."""
    return _plain_argument_types(njit(parallel=True, **JIT)(fn))


def _plain_argument_types(dispatcher):  # type: ignore[no-untyped-def]
    """Calls from other kernels resolve `dispatcher` for their arguments' plain types
    (a literal 0 as int64), so that one compiled signature serves them all."""
    resolve = dispatcher.get_call_template

    def get_call_template(args, kws):  # type: ignore[no-untyped-def]
        return resolve(tuple(types.unliteral(a) for a in args),
                       {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


def _load_without_refresh(dispatcher) -> None:  # type: ignore[no-untyped-def]
    """Load `dispatcher`'s cached machine code without refreshing Numba's whole target
    context first.

    Before each load from its on-disk cache Numba calls `target_context.refresh()`, which
    imports and registers every lowering Numba has (numba.np.*, numba.typed, the random
    generators, the entry points of installed extensions): ~0.2 s of every `nnspec run`, a
    fifth of a short run's whole process, for code that is already machine code. What a
    loaded library needs from that is the NRT's symbols (the runtime the kernels' np.empty
    allocates with), which `rtsys.initialize` registers; `reload_init` hooks run in the
    rebuild as before. A compile (a cache miss) still refreshes: Numba's compiler does so
    itself (CompilerBase). Where this Numba's cache lacks the private methods used here,
    its own load_overload stays."""
    cache = getattr(dispatcher, "_cache", None)
    guard = getattr(cache, "_guard_against_spurious_io_errors", None)
    load = getattr(cache, "_load_overload", None)
    if cache is None or guard is None or load is None:
        return
    from numba.core.runtime import rtsys

    def load_overload(sig, target_context):  # type: ignore[no-untyped-def]
        rtsys.initialize(target_context)
        with guard():
            return load(sig, target_context)
        return None  # (the guard swallowed an I/O error: compile instead, as Numba does)

    cache.load_overload = load_overload


_FULL_OPTIMISE = None  # Numba's own CPUCodeLibrary._optimize_final_module, once replaced
_AS_CALLEE = False  # compile_as_callee


def compile_as_callee(on: bool) -> None:
    """Treat kernels compiled from Python as callees too (no module-level optimisation)
    while `on`: the compile helper's (precompile.py) kernels are only ever linked into the
    main process's entry point."""
    global _AS_CALLEE
    _AS_CALLEE = on


def _optimise_only_entry_points() -> None:
    """Make Numba skip the module-level optimisation of a library it compiles for a call
    from another of our kernels (see the module docstring): such a library's optimised IR
    is only linked into its callers, which optimise the linked module as a whole (Numba's
    CodeLibrary.finalize: link the callees, then optimise, then emit machine code). Compiles
    are tracked with Numba's event API; the outermost compile in progress decides: ours (a
    function of the nnspec package) means any library finished inside it is a callee. Other
    Numba users in the same process are untouched, and a Numba without the private method
    used keeps its own behaviour (the first compile is then slower, nothing else)."""
    global _FULL_OPTIMISE
    try:
        from numba.core import codegen, event
        library = codegen.CPUCodeLibrary
        _FULL_OPTIMISE = library._optimize_final_module
    except (ImportError, AttributeError):
        return
    outermost: list[bool] = []  # per compile in progress, outermost first: is it ours
    names: list[str] = []  # and the compiled function's qualified name

    class _Compiles(event.Listener):  # type: ignore[misc]
        def on_start(self, ev):  # type: ignore[no-untyped-def]
            func = getattr(ev.data.get("dispatcher"), "py_func", None)
            outermost.append(getattr(func, "__module__", "").startswith("nnspec."))
            names.append(getattr(func, "__qualname__", ""))

        def on_end(self, ev):  # type: ignore[no-untyped-def]
            if outermost:
                outermost.pop()
                names.pop()

    def optimize_final_module(self):  # type: ignore[no-untyped-def]
        if outermost and outermost[0] and (len(outermost) > 1 or _AS_CALLEE):
            return  # a callee: optimised within the entry point's module
        # the entry point's own library (Numba names it after the function), not the
        # libraries a prange compiles on the way, which find each other's symbols by name
        if outermost and outermost[0] and self.name == names[0]:
            _rename_callees(self._final_module)
        _FULL_OPTIMISE(self)

    event.register("numba:compile", _Compiles())
    library._optimize_final_module = optimize_final_module


ENTRY_SUFFIX = ".nnspec_entry"


def _rename_callees(module) -> None:  # type: ignore[no-untyped-def]
    """Give an entry point's linked-in copies of its callees (our kernels, their prange
    bodies' gufuncs, Numba's np.dot) names of their own (+ ENTRY_SUFFIX), so that its calls
    bind to its own optimised copies (the runtime's NRT_incref/decref keep theirs).

    Numba links a callee into its caller as a `linkonce_odr` function (a prange body's
    gufunc as `weak_odr`): a weak symbol in the machine code, which the JIT resolves to a
    definition of the same name already loaded when there is one. In the process that
    compiled the engine, that was each callee's own machine code, built without the
    module-level optimisation (above): the first run after a compile trained ~3x slower than
    every run that loads the engine from the cache (the words benchmark: 9.5-11 against
    3.3-3.6 ms a batch, measured), and in any process that had loaded a kernel's own copy
    before the engine (a kernel called from Python) the engine called that copy. Renamed,
    the copies keep their linkage, so their calling convention stays the one every caller
    assumes: making them internal instead (tried) let LLVM change their signatures, and a
    kernel loaded later from a warm cache then bound to them and crashed. The engine's two
    entry points define the same renamed copies; either's binds the other's calls, both
    optimised, as the linkage's "one definition" allows."""
    try:
        from llvmlite.binding import Linkage
    except ImportError:
        return
    shared = (Linkage.linkonce_odr, Linkage.weak_odr)  # weak_odr: parfor gufuncs (prange)
    for fn in module.functions:
        if (not fn.is_declaration and fn.linkage in shared and not fn.name.startswith("NRT_")
                and not fn.name.endswith(ENTRY_SUFFIX)):
            fn.name = fn.name + ENTRY_SUFFIX


_optimise_only_entry_points()

_HERE = Path(__file__).resolve().parent
# plan.py's int codes are derived from the op registries (ops/): both are inputs of the kernels
_SOURCES = (sorted(_HERE.glob("*.py")) + [_HERE.parent.parent / "lower" / "plan.py"]
            + sorted((_HERE.parent.parent / "ops").glob("*.py")))


def drop_stale_cache(cache_dir: Path = _HERE / "__pycache__") -> bool:
    """Delete cached compiled kernels built from other sources; True if something was dropped."""
    digest = hashlib.sha256()
    for path in _SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    stamp = cache_dir / "nnspec-kernels.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return False
    except OSError:
        pass
    dropped = False
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for entry in cache_dir.iterdir():
            if entry.suffix in (".nbi", ".nbc"):
                entry.unlink(missing_ok=True)
                dropped = True
        stamp.write_text(digest.hexdigest())
    except OSError:  # a read-only install: Numba then caches elsewhere (or not at all)
        pass
    return dropped


def cache_dir() -> Path:
    """Where Numba keeps this folder's compiled kernels: __pycache__ beside the sources, or
    with NUMBA_CACHE_DIR set, the folder Numba's cache locator derives for them inside it
    (a stale engine there crashed a run as surely as one in __pycache__)."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    if not root:
        return _HERE / "__pycache__"
    try:
        from numba.core.caching import _CacheLocator

        return Path(root) / _CacheLocator.get_suitable_cache_subpath(str(_HERE / "jit.py"))
    except (ImportError, AttributeError):  # another Numba: its own layout, not known here
        return Path(root)


drop_stale_cache(cache_dir())
