"""Fixtures shared by the report tests."""

from __future__ import annotations

import pytest

from bench import registry


@pytest.fixture
def adautomix_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """The published spelling of AdAutoMix, whether or not the method is registered yet."""
    entry = registry.Entry("adautomix", "bench.methods.adautomix:AdAutoMix", "AdAutoMix", ("AdAutoMix",))
    monkeypatch.setitem(registry.METHODS, "adautomix", entry)
