"""E516: a max pool's input must hold fewer than 2^24 values per sample (the engines keep
each maximum's position as a float32 integer); reported by check at the statement, and by
the IR's shape rule for a model built without check, never a ValueError from the engines'
layout. The rendered form is tests/check/golden/E516.*."""

from __future__ import annotations

import pytest

from nnspec.ops.layers import MAXPOOL_INPUT_LIMIT, AvgPool2D, MaxPool2D, ShapeError
from nnspec.pipeline import diagnose

SPEC = """model m {{
    input {c} {h} {w}
    {pool} 2
    global_avgpool
    dense 2 softmax
}}
train {{ loss categorical_crossentropy }}
"""


@pytest.mark.parametrize("c, h, w, pool, codes", [
    (1, 4096, 4096, "maxpool", ["E516"]),  # exactly 2^24
    (1, 4095, 4097, "maxpool", []),  # 2^24 - 1
    (4, 2048, 2049, "maxpool", ["E516"]),
    (1, 4096, 4096, "avgpool", []),  # no position kept: no limit
])
def test_the_limit_is_checked_at_the_statement(c, h, w, pool, codes):
    spec, diagnostics = diagnose(SPEC.format(c=c, h=h, w=w, pool=pool), "m.nn")
    assert [d.code for d in diagnostics] == codes
    if codes:
        (d,) = diagnostics
        assert spec is None and d.span is not None and (d.span.line, d.span.col) == (3, 5)
        assert "2^24" in d.message and d.hints


def test_the_shape_rule_says_e516():
    assert MAXPOOL_INPUT_LIMIT == 1 << 24
    with pytest.raises(ShapeError) as info:
        MaxPool2D(kernel=2).out_shape((1, 4096, 4096))
    assert info.value.code == "E516"
    assert MaxPool2D(kernel=2).out_shape((1, 4095, 4097)) == (1, 2047, 2048)
    assert AvgPool2D(kernel=2).out_shape((1, 4096, 4096)) == (1, 2048, 2048)
