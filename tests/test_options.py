"""Option parsing functions, tested without pytester."""

from __future__ import annotations

import pytest

from pytest_albench.plugin.options import parse_seeds


@pytest.mark.parametrize("text, seeds", [("0,1,2", (0, 1, 2)), ("0-4", (0, 1, 2, 3, 4)), ("3, 7-8,3", (3, 7, 8))])
def test_seeds_accept_lists_and_ranges(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "-1", "1,,x"])
def test_bad_seeds_are_a_usage_error_showing_the_accepted_forms(text: str) -> None:
    with pytest.raises(pytest.UsageError, match="albench-seeds"):
        parse_seeds(text)
