"""Fixtures shared by the report tests."""

from __future__ import annotations

import pytest

from bench import registry


@pytest.fixture
def adautomix_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """The published spelling of AdAutoMix, whether or not the method is registered yet."""
    entry = registry.Entry("adautomix", "bench.methods.adautomix:AdAutoMix", "AdAutoMix", ("AdAutoMix",))
    monkeypatch.setitem(registry.METHODS, "adautomix", entry)


@pytest.fixture
def published_table(monkeypatch: pytest.MonkeyPatch):
    """A function that makes `rows` the published table every report reads (instead of the files
    under results/published)."""
    from bench.report import collect

    def use(rows: list) -> list:
        monkeypatch.setattr(collect, "published_rows", lambda settings: list(rows))
        return rows

    return use
