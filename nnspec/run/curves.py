"""run.curves: history rows -> curves.png (loss and each metric per epoch, train vs val/test,
and the schedule's learning rate).

Drawn with Pillow rather than matplotlib: the picture is the same kind (one panel per
quantity, a line per split in matplotlib's default colours, grid, ticks, legend, a dashed line
at the kept epoch), and it costs ~0.05 s where importing matplotlib alone took ~0.35 s of
every run's start-up. Drawn once, at the end, at twice the size and scaled down (smooth lines).

A panel whose values are all positive and span at least two decades (a diverging loss, an
exponential learning-rate decay) is drawn on a log10 y-axis, and its title says so: on a
linear axis a steady exponential blow-up looks like a spike in the last epochs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

BATCH_MEAN = "train, batch mean"  # the row's `loss` beside the epoch-end `train_loss`
PANEL_W, PANEL_H, TOP = 420, 340, 28  # pixels per panel; room for the figure title
LEFT, RIGHT, PTOP, BOTTOM = 62, 14, 30, 44  # plot area margins inside a panel
S = 2  # supersampling factor
COLOURS = {"train": (31, 119, 180), "val": (255, 127, 14), "test": (44, 160, 44),
           "lr": (148, 103, 189), BATCH_MEAN: (158, 202, 225)}
LOG_SPAN = 100.0  # max/min at or above which a panel gets a log y-axis
LR_PANEL = "learning rate"
GRID, AXIS, MARK = (225, 225, 225), (40, 40, 40), (128, 128, 128)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round numbers (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def log_scale(lines: dict[str, list[float]]) -> bool:
    """Whether a panel's values are all positive and span LOG_SPAN or more."""
    finite = [y for ys in lines.values() for y in ys if math.isfinite(y)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= LOG_SPAN


def decade_ticks(lo: float, hi: float, n: int = 7) -> list[float]:
    """Ticks of a log10 axis (lo, hi in decades): whole decades, every k-th so at most ~n."""
    first, last = math.ceil(lo), math.floor(hi)
    step = max(1, math.ceil((last - first + 1) / n))
    return [float(t) for t in range(first, last + 1, step)]


def label(v: float) -> str:
    return f"{v:.6g}" if abs(v) >= 1e-4 or v == 0 else f"{v:.1e}"


def quantities(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The panels: loss and every metric (a val/test-only quantity still gets one)."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    names = [k for k in keys if k not in ("epoch", "time", "lr", "train_loss")
             and not k.startswith(("val_", "test_"))]
    for key in keys:
        base = key.split("_", 1)[1] if key.startswith(("val_", "test_")) else None
        if base and base not in names:
            names.append(base)
    return names


def _num(v: Any) -> float:
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def png(rows: Sequence[dict[str, Any]], marked_epoch: int | None, title: str = "") -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    names = quantities(rows)
    lrs = [_num(r.get("lr")) for r in rows]
    if any(math.isfinite(v) for v in lrs):
        names.append(LR_PANEL)
    top = TOP if title else 0
    img = Image.new("RGB", (PANEL_W * len(names) * S, (PANEL_H + top) * S), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=11 * S)
    big = ImageFont.load_default(size=13 * S)
    if title:
        draw.text((img.width / 2, 8 * S), title, fill=AXIS, font=big, anchor="mt")
    epochs = [_num(r.get("epoch")) for r in rows]
    for i, name in enumerate(names):
        if name == LR_PANEL:
            lines = {"lr": lrs}
        else:
            lines = {split: [_num(r.get(prefix + name)) for r in rows]
                     for prefix, split in (("", "train"), ("val_", "val"), ("test_", "test"))}
            if name == "loss" and any("train_loss" in r for r in rows):
                # train at the epoch's end, as val: comparable; the batch mean beside them
                lines = {"train": [_num(r.get("train_loss")) for r in rows],
                         **{k: v for k, v in lines.items() if k != "train"},
                         BATCH_MEAN: lines["train"]}
        lines = {k: ys for k, ys in lines.items() if any(math.isfinite(y) for y in ys)}
        _panel(draw, font, big, (i * PANEL_W, top), name, epochs, lines, marked_epoch)
    # each pixel the mean of its S x S block (supersampling's own filter): ~2 ms, where a
    # LANCZOS resize took ~37 ms of every run for the same picture to the eye
    out = img.reduce(S)
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _panel(draw: Any, font: Any, big: Any, origin: tuple[int, int], name: str,
           epochs: list[float], lines: dict[str, list[float]], marked: int | None) -> None:
    ox, oy = origin
    x0, y0 = (ox + LEFT) * S, (oy + PTOP) * S
    x1, y1 = (ox + PANEL_W - RIGHT) * S, (oy + PANEL_H - BOTTOM) * S
    log = log_scale(lines)
    if log:
        lines = {k: [math.log10(y) if math.isfinite(y) and y > 0 else math.nan for y in ys]
                 for k, ys in lines.items()}
        name += " (log scale)"
    finite = [y for ys in lines.values() for y in ys if math.isfinite(y)]
    ylo, yhi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if yhi == ylo:
        ylo, yhi = ylo - 0.5 * (abs(ylo) or 1), yhi + 0.5 * (abs(yhi) or 1)
    pad = 0.05 * (yhi - ylo)
    ylo, yhi = ylo - pad, yhi + pad
    xs_ok = [e for e in epochs if math.isfinite(e)] or [1.0]
    xlo, xhi = min(xs_ok), max(xs_ok)
    if marked is not None:
        xlo, xhi = min(xlo, marked), max(xhi, marked)
    if xhi == xlo:
        xlo, xhi = xlo - 1, xhi + 1
    xpad = 0.05 * (xhi - xlo)
    xlo, xhi = xlo - xpad, xhi + xpad

    def px(x: float) -> float:
        return x0 + (x - xlo) / (xhi - xlo) * (x1 - x0)

    def py(y: float) -> float:
        return y1 - (y - ylo) / (yhi - ylo) * (y1 - y0)

    draw.text(((x0 + x1) / 2, (oy + 8) * S), name, fill=AXIS, font=big, anchor="mt")
    for t in (decade_ticks(ylo, yhi) if log else nice_ticks(ylo, yhi, 7)):
        if ylo <= t <= yhi:
            draw.line([(x0, py(t)), (x1, py(t))], fill=GRID, width=S)
            draw.line([(x0 - 4 * S, py(t)), (x0, py(t))], fill=AXIS, width=S)
            text = f"1e{int(t)}" if log else label(t)
            draw.text((x0 - 7 * S, py(t)), text, fill=AXIS, font=font, anchor="rm")
    for t in nice_ticks(max(xlo, 0.0), xhi, 6):
        if xlo <= t <= xhi and float(t).is_integer():
            draw.line([(px(t), y0), (px(t), y1)], fill=GRID, width=S)
            draw.line([(px(t), y1), (px(t), y1 + 4 * S)], fill=AXIS, width=S)
            draw.text((px(t), y1 + 7 * S), label(t), fill=AXIS, font=font, anchor="mt")
    draw.text(((x0 + x1) / 2, y1 + 24 * S), "epoch", fill=AXIS, font=font, anchor="mt")
    legend: list[tuple[str, tuple[int, int, int], bool]] = []
    drawn: list[tuple[float, float]] = []
    xs = x0 + (np.asarray(epochs, dtype=np.float64) - xlo) / (xhi - xlo) * (x1 - x0)
    for split, values in lines.items():
        colour = COLOURS[split]
        ys = y1 - (np.asarray(values, dtype=np.float64) - ylo) / (yhi - ylo) * (y1 - y0)
        for run in segments(xs, ys):
            drawn += run
            if len(run) > 1:
                draw.line(run, fill=colour, width=2 * S, joint="curve")
            if len(epochs) < 30:
                for cx, cy in run:
                    draw.ellipse([cx - 3 * S, cy - 3 * S, cx + 3 * S, cy + 3 * S], fill=colour)
        legend.append((split, colour, False))
    if marked is not None:
        x = px(marked)
        for y in range(int(y0), int(y1), 10 * S):
            draw.line([(x, y), (x, min(y + 6 * S, y1))], fill=MARK, width=S)
        legend.append((f"best epoch {marked}", MARK, True))
    draw.rectangle([x0, y0, x1, y1], outline=AXIS, width=S)
    _legend(draw, font, (x0, y0, x1, y1), legend, drawn)


def segments(xs: np.ndarray, ys: np.ndarray) -> list[list[tuple[float, float]]]:
    """The pixel points of one line, split where a value is not finite (a diverged epoch
    breaks the line). A long history keeps, per pixel column, its first, last, lowest and
    highest points: the same picture as every point, drawn in time independent of length."""
    ok = np.isfinite(xs) & np.isfinite(ys)
    out = []
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        x, y = xs[a:b], ys[a:b]
        if len(x) > 4 * (x[-1] - x[0] + 1):
            cols = np.floor(x).astype(np.int64)
            starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
            ends = np.r_[starts[1:], len(x)] - 1
            order = np.lexsort((y, cols))  # by column, then value: a column's min, then max
            keep = np.unique(np.r_[starts, ends, order[starts], order[ends]])
            x, y = x[keep], y[keep]
        out.append(list(zip(x.tolist(), y.tolist(), strict=True)))
    return out


def _legend(draw: Any, font: Any, box: tuple[float, float, float, float],
            entries: list[tuple[str, tuple[int, int, int], bool]],
            points: list[tuple[float, float]]) -> None:
    """The legend in the corner of the plot that covers the fewest points (as matplotlib's
    loc="best" does, by corners only)."""
    if not entries:
        return
    width = max(draw.textlength(text, font=font) for text, _, _ in entries) + 36 * S
    row = 16 * S
    height = row * len(entries) + 6 * S
    left, top, right, bottom = box
    corners = [(right - width - 6 * S, top + 6 * S), (right - width - 6 * S,
               bottom - height - 6 * S), (left + 6 * S, top + 6 * S),
               (left + 6 * S, bottom - height - 6 * S)]

    def covered(c: tuple[float, float]) -> int:
        return sum(c[0] <= x <= c[0] + width and c[1] <= y <= c[1] + height for x, y in points)

    x0, y0 = min(corners, key=covered)
    draw.rectangle([x0, y0, x0 + width, y0 + height], fill="white", outline=(204, 204, 204),
                   width=S)
    for i, (text, colour, dashed) in enumerate(entries):
        y = y0 + 3 * S + row * i + row / 2
        if dashed:
            for k in range(3):
                draw.line([(x0 + (6 + 8 * k) * S, y), (x0 + (11 + 8 * k) * S, y)], fill=colour,
                          width=S)
        else:
            draw.line([(x0 + 6 * S, y), (x0 + 26 * S, y)], fill=colour, width=2 * S)
        draw.text((x0 + 32 * S, y), text, fill=AXIS, font=font, anchor="lm")
