"""tests/support/require.py: a missing real part skips locally and fails under CI=true."""

from __future__ import annotations

import pytest

from tests.support.require import ci_mode, missing, require, require_module


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes"])
def test_a_missing_part_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert ci_mode()
    with pytest.raises(pytest.fail.Exception, match="CI=true: the thing is missing: install it"):
        missing("the thing", "install it")
    with pytest.raises(pytest.fail.Exception, match="cannot import no_such_module_xyz"):
        require_module("no_such_module_xyz")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_a_missing_part_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not ci_mode()
    with pytest.raises(pytest.skip.Exception, match="the thing is missing: install it"):
        require(False, "the thing", "install it")
    require(True, "the thing", "install it")  # present: nothing happens
    assert require_module("json").dumps([1]) == "[1]"
