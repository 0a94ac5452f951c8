"""train.progress: training events -> what the user sees (rich live view, plain lines, JSON).

Three reporters share one interface (`Reporter`) so the loop never knows which is active:
- `RichReporter` (stdout is a terminal): a live bar per epoch with samples/s and ETA, and one
  printed line per finished epoch (loss, val loss, metrics, lr). Rich renders a print in
  ~0.1 ms, more than a small net's whole epoch, so finished lines are gathered and printed
  together at most `REFRESH_HZ` times a second, and the bar is updated at most as often;
  every line is still shown, in order, before any message and at the end;
- `PlainReporter` (stdout is a file or a pipe, CI logs): one line per epoch, nothing else;
- `JsonReporter` (`--json`): exactly one JSON object per epoch on stdout (the history row),
  so `nnspec run --json | jq` works; messages go to stderr.
The plain and JSON lines are flushed at most `REFRESH_HZ` times a second (a flush is a
write to the pipe, per epoch a few microseconds of a tiny epoch's ~0.2 ms), and always before
a message and at the end: whoever reads the pipe sees every line within 0.1 s.
`--quiet` is the base `Reporter`, which prints nothing.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, TextIO

from nnspec.run.atomic import dumps

_FIXED = ("epoch", "time", "lr")
REFRESH_HZ = 10  # the live view's most updates per second


@dataclass
class RunInfo:
    """What a reporter needs to know before the first epoch."""

    name: str
    epochs: int
    start_epoch: int  # epochs already done (resume), 0 for a fresh run
    train_samples: int
    batches_per_epoch: int
    out_dir: str | None = None


def fmt(value: Any) -> str:
    """Compact number: 4 decimals in the usual range, scientific outside it."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4f}"
        return f"{value:.3e}"
    return str(value)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def epoch_line(row: dict[str, Any], epochs: int, extra: dict[str, Any] | None = None) -> str:
    """`epoch 3/100  loss 0.4123  accuracy 0.8750  val_loss 0.4521  lr 0.01  ...`."""
    width = len(str(epochs))
    parts = [f"epoch {row['epoch']:>{width}}/{epochs}"]
    parts += [f"{k} {fmt(v)}" for k, v in row.items() if k not in _FIXED]
    parts.append(f"lr {row['lr']:.3g}")
    for key, value in (extra or {}).items():
        parts.append(f"{key} {value}")
    return "  ".join(parts)


class Reporter:
    """Base reporter: prints nothing (`--quiet`). Subclasses override what they show."""

    # How often the reporter wants `chunk` calls (seconds), None: the loop's own pace. A live
    # bar asks for its refresh interval, so that it moves within an epoch of a fraction of a
    # second too (issue 18), rather than jumping from empty to full in one 0.5 s chunk.
    chunk_s: float | None = None

    def start(self, info: RunInfo) -> None:
        self.info = info
        self._t_last = time.perf_counter()
        self._first: float | None = None  # the first epoch's time (JIT compile included)
        self._recent: deque[float] = deque(maxlen=5)  # the last few others: constant cost

    def chunk(self, epoch: int, batches_done: int, samples_per_s: float) -> None:
        """Called after every executable call inside an epoch (1-based epoch)."""

    def epoch(self, row: dict[str, Any], samples_per_s: float) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = now - self._t_last
        else:
            self._recent.append(now - self._t_last)
        self._t_last = now

    def message(self, text: str) -> None:
        """A one-off note (early stop, weights restored, how to resume)."""

    def end(self) -> None:
        pass

    def eta(self, row: dict[str, Any]) -> float | None:
        """Seconds left if each remaining epoch takes the mean of the last few (the first
        epoch is left out once there are others: it includes the JIT compile)."""
        recent = list(self._recent) or ([self._first] if self._first is not None else [])
        if not recent:
            return None
        return sum(recent) / len(recent) * (self.info.epochs - int(row["epoch"]))


class _Lines(Reporter):
    """A line per epoch on `stream`, flushed at a bounded rate (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None, err: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.err = err or sys.stderr
        self._flushed = 0.0

    def _line(self, text: str) -> None:
        print(text, file=self.stream)
        now = time.perf_counter()  # (the base epoch() just read it: as cheap)
        if now - self._flushed >= 1.0 / REFRESH_HZ:
            self.stream.flush()
            self._flushed = now

    def end(self) -> None:
        self.stream.flush()


class PlainReporter(_Lines):
    def epoch(self, row: dict[str, Any], samples_per_s: float) -> None:
        super().epoch(row, samples_per_s)
        extra = {"samples/s": f"{samples_per_s:,.0f}", "eta": fmt_duration(self.eta(row))}
        self._line(epoch_line(row, self.info.epochs, extra))

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class JsonReporter(_Lines):
    def epoch(self, row: dict[str, Any], samples_per_s: float) -> None:
        super().epoch(row, samples_per_s)
        self._line(dumps(row))

    def message(self, text: str) -> None:
        self.stream.flush()  # the lines before it first, as they happened
        print(text, file=self.err, flush=True)


class RichReporter(Reporter):
    """Live progress bar for the current epoch; finished epochs scroll above it."""

    chunk_s = 1.0 / REFRESH_HZ

    def __init__(self, console: Any = None):
        from rich.console import Console

        self.console = console or Console()
        self.progress: Any = None
        self.pending: list[str] = []  # finished epochs' lines not printed yet
        self._shown = 0.0  # when the view was last updated (perf_counter)

    def start(self, info: RunInfo) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        super().start(info)
        # printed before the live bar starts (a print under it records the bar too)
        self.console.print("[dim]loss: the mean over the epoch's batches as the weights "
                           "changed; train_loss, metrics and val_*: at the epoch's end[/dim]")
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"), TextColumn("eta {task.fields[eta]}"),
            TimeElapsedColumn(), console=self.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task(self._desc(info.start_epoch + 1),
                                           total=info.batches_per_epoch, speed="", eta="-:--")
        if info.out_dir:
            self.console.print(f"[dim]training {info.name} -> {info.out_dir}[/dim]")

    def _desc(self, epoch: int) -> str:
        return f"epoch {epoch}/{self.info.epochs}"

    def _due(self) -> bool:
        now = time.perf_counter()
        if now - self._shown < 1.0 / REFRESH_HZ:
            return False
        self._shown = now
        return True

    def chunk(self, epoch: int, batches_done: int, samples_per_s: float) -> None:
        if self._due():
            self._flush()
            self.progress.update(self.task, description=self._desc(epoch),
                                 completed=batches_done, speed=f"{samples_per_s:,.0f} samples/s")
        else:  # the bar itself always follows the batches (an update draws nothing)
            self.progress.update(self.task, completed=batches_done)

    def epoch(self, row: dict[str, Any], samples_per_s: float) -> None:
        super().epoch(row, samples_per_s)
        self.pending.append(epoch_line(row, self.info.epochs,
                                       {"samples/s": f"{samples_per_s:,.0f}"}))
        if self._due() or int(row["epoch"]) >= self.info.epochs:
            self._flush()
            nxt = min(int(row["epoch"]) + 1, self.info.epochs)
            self.progress.update(self.task, description=self._desc(nxt), completed=0,
                                 eta=fmt_duration(self.eta(row)))

    def _flush(self) -> None:
        if self.pending:
            from rich.text import Text

            console = self.progress.console if self.progress else self.console
            console.print(Text("\n".join(self.pending)), highlight=False)
            self.pending.clear()

    def message(self, text: str) -> None:
        self._flush()
        self.progress.console.print(text, highlight=False) if self.progress else \
            self.console.print(text, highlight=False)

    def end(self) -> None:
        self._flush()
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def make_reporter(quiet: bool = False, json_lines: bool = False,
                  stream: TextIO | None = None) -> Reporter:
    """Pick the reporter for the CLI flags and whether stdout is a terminal."""
    if json_lines:
        return JsonReporter(stream)
    if quiet:
        return Reporter()
    out = stream or sys.stdout
    if out.isatty():
        return RichReporter()
    return PlainReporter(out)
