"""The record contract: every Result field survives JSON, and bad records are refused when read."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import InvalidRecords
from pipeline.records import Build, Difference, Result, results_from_json, sortable_utc


def test_variation_differences_survive_json():
    result = Result(name="p", version="1", python="3.11.9", interpreter="cp311", status="reproducible",
                    started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z", reproduce="r",
                    variations={"umask": "differs"},
                    sensitive_to=("umask",), variation_differences=(Difference("p/x.py", "content", "d", "content"),))
    assert Result.from_json(json.loads(json.dumps(result.to_json()))) == result
    assert result.to_json()["variation_differences"] == [{"path": "p/x.py", "kind": "content", "detail": "d",
                                                          "cause": "content"}]


def _full() -> Result:
    from pipeline.records import Artifact, Environment, Isolation, Upstream

    return Result(
        name="p", version="1", python="3.11.9", interpreter="cp311", status="unreproducible",
        started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01+00:00", reproduce="nox -s check -- p==1",
        sdist=Artifact("p-1.tar.gz", "https://x/p-1.tar.gz", "ab" * 32, 10, "2025-01-01T00:00:00Z"),
        environment=Environment("fp", "base", "3.11.9", "cp311", ("pip==1 --hash=sha256:x",), ("a==1",), "/env"),
        builds=(Build("p-1-py3-none-any.whl", "cd" * 32, 1.25, "/w", "/l", 0, "/b"),
                Build(None, None, 0.5, None, "/l2", None, "/b", ("umask",), True)),
        differences=(Difference("p/x.py", "content", "d", "random_content"), Difference("", "order", "o")),
        variations={"umask": "differs"}, sensitive_to=("umask",),
        variation_differences=(Difference("p/x.py", "mode", "m", "umask"),),
        upstream=Upstream("equivalent", wheel="p-1-py3-none-any.whl", url="https://x/w", sha256="ef" * 32,
                          passes=("sort_entries",), differences=(Difference("a", "content"),), note="n"),
        isolation=Isolation("bubblewrap 0.8.0", True, "uid 1000000000"), controls={"TZ": "UTC"},
        index_url="https://x/simple/", message="m", diffoscope="/d.html", tracker="0.1.0",
    )


def test_every_field_survives_json():
    result = _full()
    text = json.dumps(result.to_json())
    assert Result.from_json(json.loads(text)) == result
    assert json.loads(text)["schema"] == 1


@pytest.mark.parametrize("field, value, message", [
    ("status", "maybe", "unknown status"), ("finished", "yesterday", "Invalid isoformat"),
    ("started", "1 Jan", "Invalid isoformat"),
])
def test_a_record_with_a_bad_field_is_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        Result.from_json(_full().to_json() | {field: value})


def test_times_in_any_offset_sort_as_utc():
    assert sortable_utc("2026-01-01T03:00:00+01:00") == "2026-01-01T02:00:00.000000Z"
    assert sortable_utc("2026-01-01T02:00:00") == sortable_utc("2026-01-01T02:00:00Z")
    assert sortable_utc("") == ""


def test_records_are_read_from_a_list_or_an_object_and_bad_ones_named():
    record = _full().to_json()
    assert [r.name for r in results_from_json([record], "f")] == ["p"]
    assert [r.name for r in results_from_json({"results": [record]}, "f")] == ["p"]
    with pytest.raises(InvalidRecords, match="f: expected a JSON list"):
        list(results_from_json({"x": 1}, "f"))
    with pytest.raises(InvalidRecords, match="record 1 is not a result"):
        list(results_from_json([record, {"name": "x"}], "f"))


def test_a_rebuild_from_a_record_carries_its_verification_and_other_records_do_not():
    from pipeline.records import Verification

    plain = _full()
    assert "verification" not in plain.to_json(), "records made before --from-record keep their bytes"
    checked = Result(**{**plain.__dict__, "verification": Verification(
        "differs", "https://site.example/api/projects/p.json", ("cd" * 32,), "ef" * 32, "fp", "2026-01-01T00:00:01Z",
        "the rebuilt wheel has another sha256", (Difference("p/x.py", "content", "d"),), ("cc: recorded 'a', here 'b'",))})
    assert Result.from_json(json.loads(json.dumps(checked.to_json()))) == checked
    data = checked.to_json()
    data["verification"]["status"] = "probably"
    with pytest.raises(InvalidRecords, match="unknown verification status"):
        list(results_from_json([data], "f.json"))
