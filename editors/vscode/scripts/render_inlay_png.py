"""editors: specs/inception.nn + the language server's inlay hints -> images/inlay-hints.png.

A rendering, not a screenshot: the README's picture of the inlay hints is drawn with Pillow in
the colours of VS Code's Dark+ theme, and says so in its last line. The hints drawn are the ones
the server computes for the spec (`nnspec.lsp.inlay.inlay_hints`, what `textDocument/inlayHint`
answers), so the picture shows real numbers. Regenerate from the repository root with:

    .venv/bin/python editors/vscode/scripts/render_inlay_png.py

(needs Pillow, and the DejaVu Sans Mono font: matplotlib ships it, or fonts-dejavu-core).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parents[1] / "images" / "inlay-hints.png"
SPEC = ROOT / "specs" / "inception.nn"

BACKGROUND, TEXT, GUTTER = "#1e1e1e", "#d4d4d4", "#858585"
COLOURS = {"keyword": "#569cd6", "op": "#dcdcaa", "number": "#b5cea8", "comment": "#6a9955",
           "string": "#ce9178"}
HINT_TEXT, HINT_BACK = "#9d9d9d", "#2d2d30"
CAPTION = ("Rendered by editors/vscode/scripts/render_inlay_png.py from the language server's "
           "inlay hints for specs/inception.nn (not a screenshot)")


def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    candidates = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")]
    try:
        import matplotlib

        candidates.insert(0, Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
                          / "DejaVuSansMono.ttf")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    sys.exit("DejaVu Sans Mono not found (pip install matplotlib, or apt install "
             "fonts-dejavu-core)")


def _tokens(line: str) -> list[tuple[str, str]]:
    """(text, colour) pieces of one line, coloured roughly as the TextMate grammar does."""
    from nnspec.check.statements import BLOCKS
    from nnspec.ops import ACTIVATIONS, LOSSES, OPTIMIZERS

    keywords = set(BLOCKS) | {s.keyword for docs in BLOCKS.values() for s in docs} | {"branch"}
    ops = set(ACTIVATIONS) | set(LOSSES) | set(OPTIMIZERS)
    out = []
    for m in re.finditer(r'#.*|"[^"]*"|[A-Za-z_][A-Za-z0-9_]*|[0-9.]+|\s+|.', line):
        word = m.group()
        if word.startswith("#"):
            colour = COLOURS["comment"]
        elif word.startswith('"'):
            colour = COLOURS["string"]
        elif word in keywords:
            colour = COLOURS["keyword"]
        elif word in ops:
            colour = COLOURS["op"]
        elif word[0].isdigit():
            colour = COLOURS["number"]
        else:
            colour = TEXT
        out.append((word, colour))
    return out


def main() -> int:
    from lsprotocol import types
    from PIL import Image, ImageDraw

    sys.path.insert(0, str(ROOT))
    from nnspec.lsp.analysis import analyze
    from nnspec.lsp.inlay import inlay_hints

    text = SPEC.read_text(encoding="utf-8")
    everything = types.Range(start=types.Position(line=0, character=0),
                             end=types.Position(line=len(text.splitlines()), character=0))
    found, _ = inlay_hints(analyze(text, str(SPEC)), None, everything)
    hints = {h.position.line: (h.position.character, str(h.label)) for h in found}
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("model"))
    last = next(i for i in range(first, len(lines)) if lines[i] == "}")
    shown = range(first, last + 1)

    size, pad, gutter = 15, 14, 5
    font, small = _font(size), _font(12)
    cw = font.getlength("M")
    lh = int(size * 1.55)
    widest = max(len(lines[i]) + len(hints.get(i, (0, ""))[1]) + 3 for i in shown)
    width = int(pad * 2 + (gutter + widest) * cw)
    height = pad * 2 + lh * len(shown) + lh + 6
    image = Image.new("RGB", (max(width, int(small.getlength(CAPTION)) + 2 * pad), height),
                      BACKGROUND)
    draw = ImageDraw.Draw(image)
    for row, i in enumerate(shown):
        y = pad + row * lh
        draw.text((pad, y), f"{i + 1:>3}", font=font, fill=GUTTER)
        x = pad + gutter * cw
        for piece, colour in _tokens(lines[i]):
            draw.text((x, y), piece, font=font, fill=colour)
            x += font.getlength(piece)
        if i in hints:
            col, label = hints[i]
            hx = pad + (gutter + col + 1) * cw
            box = (hx - 3, y - 1, hx + small.getlength(label) + 3, y + lh - 5)
            draw.rounded_rectangle(box, radius=3, fill=HINT_BACK)
            draw.text((hx, y + 2), label, font=small, fill=HINT_TEXT)
    draw.text((pad, height - pad - lh + 4), CAPTION, font=small, fill=GUTTER)
    OUT.parent.mkdir(exist_ok=True)
    image.save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(found)} hints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
