"""What the nightly tests share: list entries, run options with fast retries, the stored results."""

from __future__ import annotations

from pathlib import Path

from pipeline.engine.net import Retry
from pipeline.engine.options import CheckOptions
from pipeline.nightly.lists import ListEntry
from pipeline.nightly.run import NightlyOptions
from pipeline.nightly.store import Store


def entries(*names: str) -> list[ListEntry]:
    """List entries for ``name`` or ``name==version`` specs, as lines 1, 2, ... of test.txt."""
    out = []
    for i, spec in enumerate(names, start=1):
        name, _, version = spec.partition("==")
        out.append(ListEntry(name, version or None, f"test.txt:{i}"))
    return out


def options(tmp_path: Path, **kw) -> NightlyOptions:
    kw.setdefault("jobs", 2)
    kw.setdefault("retry", Retry(attempts=3, backoff=0.0))
    kw.setdefault("tick", 0.05)
    return NightlyOptions(out_dir=tmp_path / "out", check=CheckOptions(index_url="file:///index/"), **kw)


def stored(tmp_path: Path) -> list:
    with Store.open(tmp_path / "out") as store:
        return store.all_results()
