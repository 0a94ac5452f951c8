"""A data path with a NUL character is E413, not a crash of the checker (found by
tests/check/test_fuzz.py once specs/sweep_lr.nn joined its corpus)."""

from __future__ import annotations

from nnspec.pipeline import diagnose

TEXT = ('model m {\n    input 8\n    dense 1\n}\ndata { source npz("\\u0000d/r.npz", x=x, y=y) }\n'
        "train {\n    loss mse\n}\n")


def test_a_nul_in_a_data_path_is_E413() -> None:
    for read_data in (False, True):
        _, diags = diagnose(TEXT, "m.nn", read_data=read_data)
        assert [d.code for d in diags] == ["E413"], diags
        assert "NUL" in diags[0].message
