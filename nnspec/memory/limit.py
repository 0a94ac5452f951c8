"""memory.limit: the machine -> the memory a run may use (bytes), and sizes as text.

"The machine's memory" is the smallest of the physical memory, the cgroup's limit (v2
`memory.max` of the process's cgroup, v1 `memory.limit_in_bytes`) and RLIMIT_AS. An override
(`--max-memory SIZE` of check, run and summary, which calls `set_override`, or the environment
variable NNSPEC_MAX_MEMORY) replaces it, so that tests and goldens do not depend on the
machine they run on. Standard library only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV = "NNSPEC_MAX_MEMORY"
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40, "pi": 2**50}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmgtp]i?)?b?\s*", re.IGNORECASE)
_override: int | None = None


@dataclass(frozen=True)
class Limit:
    bytes: int
    source: str  # "--max-memory", "NNSPEC_MAX_MEMORY", "physical memory", "cgroup", "RLIMIT_AS"

    @property
    def who(self) -> str:
        """`this machine`, `--max-memory` or `NNSPEC_MAX_MEMORY`."""
        return {"--max-memory": "--max-memory", ENV: ENV}.get(self.source, "this machine")

    @property
    def words(self) -> str:
        """How messages say it: `this machine allows 24 GB` / `--max-memory allows 1 GB`."""
        return f"{self.who} allows {show_size(self.bytes)}"


def parse_size(text: str) -> int:
    """`24G`, `24GB`, `512MiB`, `1.5T`, `1000000` -> bytes. K/M/G/T/P (with or without B) are
    powers of 1000, KiB/MiB/GiB/TiB/PiB powers of 1024. ValueError otherwise."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (write e.g. 24G, 512MiB or 1000000)")
    value = float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    if value < 1:
        raise ValueError(f"not a size: {text!r} (must be at least 1 byte)")
    return int(value)


def show_size(n: float) -> str:
    """Bytes in decimal units with 3 significant digits: `384 GB`, `1.2 MB`, `512 B`."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{_digits(n / scale)} {unit}"
    return f"{int(n)} B"


def show_count(n: int) -> str:
    """`24 billion`, `1.5 million`, `12,345`."""
    for word, scale in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if n >= scale:
            return f"{_digits(n / scale)} {word}"
    return f"{n:,}"


def _digits(v: float) -> str:
    text = f"{v:.3g}"
    return f"{v:.0f}" if "e" in text else text


def set_override(n: int | None) -> None:
    """The limit `--max-memory` gave (None: none), for this process."""
    global _override
    _override = n


def machine_limit() -> Limit:
    """The memory a run may use: the override if one is set, else the machine's."""
    if _override is not None:
        return Limit(_override, "--max-memory")
    env = os.environ.get(ENV)
    if env:
        try:
            return Limit(parse_size(env), ENV)
        except ValueError:
            pass  # the CLI refuses a bad value (cli.output.memory_option); here: ignore it
    found = [Limit(n, src) for n, src in ((_physical(), "physical memory"),
                                          (_cgroup(), "cgroup"), (_rlimit_as(), "RLIMIT_AS"))
             if n]
    return min(found, key=lambda lim: lim.bytes) if found else Limit(2**63 - 1, "unknown")


def env_problem() -> str | None:
    """Why NNSPEC_MAX_MEMORY cannot be used, if it is set and not a size."""
    env = os.environ.get(ENV)
    if not env:
        return None
    try:
        parse_size(env)
    except ValueError as exc:
        return f"{ENV}: {exc}"
    return None


def _physical() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _cgroup(proc: Path = Path("/proc/self/cgroup"),
            root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup memory limit of this process (v2, else v1), if any."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        lines = []
    limits = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        rel = rel.lstrip("/")
        if controllers == "":  # v2: the unified hierarchy
            for p in (root / rel / "memory.max", root / "memory.max"):
                limits.append(_read_number(p))
        elif "memory" in controllers.split(","):
            for p in (root / "memory" / rel / "memory.limit_in_bytes",
                      root / "memory" / "memory.limit_in_bytes"):
                limits.append(_read_number(p))
    # v1 reports "no limit" as a huge number (e.g. 2^63 - 4096)
    real = [n for n in limits if n is not None and n < 2**62]
    return min(real) if real else None


def _rlimit_as() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else int(soft)
