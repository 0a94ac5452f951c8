"""notebook.progress: training events -> two live outputs of a notebook cell.

One output is the progress (epoch, a bar over the epoch's batches, samples/s, ETA, the last
epoch's line as the CLI prints it, and messages such as early stopping), the other the curves
picture (run/curves.py, the same drawing as curves.png). Both are IPython display outputs with
a display_id, updated in place (`update_display`): no ipywidgets. Notebook frontends choke on
fast updates, so the progress is redrawn at most `REFRESH_HZ` times a second and the picture
(a PNG of ~50 ms) at most once every `PICTURE_S` seconds; the last state is always drawn at
the end. After training, `finish()` turns the progress into the final table (loss and metrics
per split, and the CLI's summary line as its plain-text form) and shows the final curves.

Each output is a MIME bundle with a text/plain form beside the HTML or PNG, so a frontend
that renders no HTML still shows the text.
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Callable
from typing import Any

from nnspec.train.progress import Reporter, RunInfo, epoch_line, fmt, fmt_duration

REFRESH_HZ = 4  # most progress updates per second
PICTURE_S = 1.0  # most curves pictures per second


def _ipython_display() -> tuple[Callable[..., Any], Callable[..., Any]]:
    from IPython.display import display, update_display

    return display, update_display


class NotebookReporter(Reporter):
    """Live progress and curves in the output cell (see the module docstring).
    `display` / `update`: IPython.display's functions (tests pass recorders)."""

    chunk_s = 1.0 / REFRESH_HZ

    def __init__(self, display: Callable[..., Any] | None = None,
                 update: Callable[..., Any] | None = None, title: str = "") -> None:
        if display is None or update is None:
            display, update = _ipython_display()
        self._display, self._update = display, update
        self.title = title
        self.rows: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self._status_id: str | None = None
        self._picture_id: str | None = None
        self._shown = self._drawn = float("-inf")
        self._epoch, self._batches, self._speed = 0, 0, 0.0
        self.updates = 0  # how many times an output was redrawn (tests read it)

    # -- what is drawn ---------------------------------------------------------------------

    def _status_bundle(self) -> dict[str, str]:
        info = self.info
        total = max(info.batches_per_epoch, 1)
        eta = fmt_duration(self.eta(self.rows[-1])) if self.rows else "-:--"
        head = (f"epoch {self._epoch}/{info.epochs}  batch {self._batches}/{total}  "
                f"{self._speed:,.0f} samples/s  eta {eta}")
        last = epoch_line(self.rows[-1], info.epochs) if self.rows else ""
        text = "\n".join(x for x in (head, last, *self.messages) if x)
        msgs = "".join(f"<div>{html.escape(m)}</div>" for m in self.messages)
        body = (f"<div style='font-family:monospace'><b>{html.escape(info.name)}</b> "
                f"epoch {self._epoch}/{info.epochs} "
                f"<progress value='{self._batches}' max='{total}' style='width:12em'>"
                f"</progress> {self._batches}/{total} batches &middot; "
                f"{self._speed:,.0f} samples/s &middot; eta {eta}"
                f"<pre style='margin:2px 0'>{html.escape(last)}</pre>{msgs}</div>")
        return {"text/plain": text, "text/html": body}

    def _picture_bundle(self) -> dict[str, str] | None:
        if not self.rows:
            return None
        from nnspec.run.curves import png

        data = png(self.rows, None, self.title or self.info.name)
        return {"text/plain": f"<curves of {len(self.rows)} epochs>",
                "image/png": base64.b64encode(data).decode("ascii")}

    # -- drawing, rate-limited -------------------------------------------------------------

    def _show_status(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._shown < 1.0 / REFRESH_HZ:
            return
        self._shown = now
        bundle = self._status_bundle()
        if self._status_id is None:
            self._status_id = f"nnspec-progress-{id(self)}-{time.time_ns()}"
            self._display(bundle, raw=True, display_id=self._status_id)
        else:
            self._update(bundle, raw=True, display_id=self._status_id)
        self.updates += 1

    def _show_picture(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._drawn < PICTURE_S:
            return
        bundle = self._picture_bundle()
        if bundle is None:
            return
        self._drawn = time.perf_counter()  # after drawing: a slow picture waits longer
        if self._picture_id is None:
            self._picture_id = f"nnspec-curves-{id(self)}-{time.time_ns()}"
            self._display(bundle, raw=True, display_id=self._picture_id)
        else:
            self._update(bundle, raw=True, display_id=self._picture_id)
        self.updates += 1

    # -- Reporter --------------------------------------------------------------------------

    def start(self, info: RunInfo) -> None:
        super().start(info)
        self._epoch = info.start_epoch + 1
        self._show_status(force=True)

    def chunk(self, epoch: int, batches_done: int, samples_per_s: float) -> None:
        self._epoch, self._batches, self._speed = epoch, batches_done, samples_per_s
        self._show_status()

    def epoch(self, row: dict[str, Any], samples_per_s: float) -> None:
        super().epoch(row, samples_per_s)
        self.rows.append(dict(row))
        self._epoch, self._batches = int(row["epoch"]), self.info.batches_per_epoch
        self._speed = samples_per_s
        last = int(row["epoch"]) >= self.info.epochs
        self._show_status(force=last)
        self._show_picture(force=last)

    def message(self, text: str) -> None:
        self.messages.append(text)
        self._show_status(force=True)

    def end(self) -> None:
        if getattr(self, "info", None) is None:
            return
        self._show_status(force=True)
        self._show_picture(force=True)

    # -- after the run ---------------------------------------------------------------------

    def finish(self, result: Any, run_dir: Any, summary: str) -> None:
        """The final table in place of the progress, and the final curves picture (with
        the kept epoch marked, as curves.png)."""
        bundle = {"text/plain": summary, "text/html": final_table(result, run_dir, summary)}
        if self._status_id is None:
            self._status_id = f"nnspec-progress-{id(self)}-{time.time_ns()}"
            self._display(bundle, raw=True, display_id=self._status_id)
        else:
            self._update(bundle, raw=True, display_id=self._status_id)
        rows = list(result.history) or self.rows
        if rows:
            from nnspec.run.curves import png

            marked = getattr(result, "restored_epoch", None) or getattr(result, "best_epoch",
                                                                         None)
            info = getattr(self, "info", None)
            data = png(rows, marked, self.title or (info.name if info else ""))
            pic = {"text/plain": f"<curves of {len(rows)} epochs>",
                   "image/png": base64.b64encode(data).decode("ascii")}
            if self._picture_id is None:
                self._picture_id = f"nnspec-curves-{id(self)}-{time.time_ns()}"
                self._display(pic, raw=True, display_id=self._picture_id)
            else:
                self._update(pic, raw=True, display_id=self._picture_id)


def final_table(result: Any, run_dir: Any, summary: str) -> str:
    """HTML: one row per split (train, val, test), one column per quantity (loss first)."""
    metrics: dict[str, dict[str, float]] = result.metrics or {}
    names: list[str] = []
    for values in metrics.values():
        names += [k for k in values if k not in names]
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(
        f"<tr><th>{html.escape(split)}</th>"
        + "".join(f"<td>{fmt(values.get(n))}</td>" for n in names) + "</tr>"
        for split, values in metrics.items())
    return (f"<div><table><thead><tr><th>{html.escape(result.status)}</th>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table>"
            f"<pre style='margin:2px 0'>{html.escape(summary)}</pre></div>")
