"""`harness.environ.patched_env`: what it sets inside the block is exactly undone after it."""

from __future__ import annotations

import os

import pytest

from harness.environ import patched_env


def test_sets_and_unsets_inside_then_restores_even_on_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AICP_TEST_KEPT", "before")
    monkeypatch.delenv("AICP_TEST_ADDED", raising=False)
    before = dict(os.environ)

    with (
        pytest.raises(RuntimeError),
        patched_env({"AICP_TEST_KEPT": None, "AICP_TEST_ADDED": "inside"}),
    ):
        assert "AICP_TEST_KEPT" not in os.environ
        assert os.environ["AICP_TEST_ADDED"] == "inside"
        raise RuntimeError("the block fails")

    assert dict(os.environ) == before
