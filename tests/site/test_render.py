"""The site: latest-per-cell rules, counts, badges, feed, escaping, determinism, CLI."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import InvalidRecords, PipelineError
from pipeline.records import Build, Difference, Environment, Isolation, Result, results_from_json
from pipeline.site import data, render_site
from pipeline.site.badges import badge_for, badge_svg
from pipeline.site.feed import render_feed

HOSTILE = "<script>window.pwned=1</script>"
GENERATED = "2025-03-31T00:00:00Z"
CONTROLS = {"SOURCE_DATE_EPOCH": "315532800", "PYTHONHASHSEED": "0", "TZ": "UTC", "LC_ALL": "C.UTF-8", "umask": "022"}


def result(name="six", version="1.0", interpreter="cp312", status="reproducible", finished="2025-03-01T10:00:00Z", **kw):
    sha = "a" * 64
    builds = kw.pop("builds", None)
    if builds is None and status in ("reproducible", "unreproducible"):
        other = sha if status == "reproducible" else "b" * 64
        builds = tuple(
            Build(f"{name}-{version}-py3-none-any.whl", s, 1.0, None, kw.pop(f"log{i}", None), 0, "/build/src")
            for i, s in enumerate((sha, other))
        )
    return Result(
        name=name, version=version, python="3.12.9", interpreter=interpreter, status=status,
        started=finished, finished=finished, reproduce=f"nox -s check -- {name}=={version}",
        builds=builds or (), isolation=kw.pop("isolation", Isolation("unshare", True)),
        controls=kw.pop("controls", CONTROLS), **kw,
    )


# -- the per-cell rules ------------------------------------------------------------------------


def test_latest_verdict_by_finished_not_input_order():
    old = result(status="unreproducible", finished="2025-03-01T00:00:00Z")
    new = result(status="reproducible", finished="2025-03-02T00:00:00Z")
    for order in ([old, new], [new, old]):
        (project,), _ = data.build_projects(order)
        assert project.cells["cp312"].verdict is new


@pytest.mark.parametrize(
    "statuses, shown, pending",
    [
        (["reproducible", "error"], "reproducible", True),
        (["error", "reproducible"], "reproducible", False),
        (["error", "error"], data.UNCHECKED, True),
        (["unreproducible", "error", "error"], "unreproducible", True),
    ],
)
def test_error_never_replaces_a_verdict(statuses, shown, pending):
    attempts = [result(status=s, finished=f"2025-03-0{i + 1}T00:00:00Z") for i, s in enumerate(statuses)]
    (project,), _ = data.build_projects(attempts)
    cell = project.cells["cp312"]
    assert cell.status == shown
    assert (cell.pending is not None) == pending
    assert cell.verdict is None or cell.verdict.status != "error"


def test_times_with_offsets_compare_as_instants():
    # 09:00+00:00 is later than 10:00+02:00 (08:00 UTC) although it sorts first as text
    later = result(status="reproducible", finished="2025-03-01T09:00:00+00:00")
    earlier = result(status="unreproducible", finished="2025-03-01T10:00:00+02:00")
    (project,), _ = data.build_projects([later, earlier])
    assert project.cells["cp312"].verdict is later


def test_a_record_with_a_bad_time_is_refused_when_read():
    record = result().to_json() | {"finished": "yesterday"}
    with pytest.raises(InvalidRecords, match="record 0 is not a result"):
        list(results_from_json([record], "results.json"))


def test_interpreters_in_version_order():
    tags = ["cp313", "cp39", "cp310", "cp312", "cp311"]
    rows = [result(interpreter=t) for t in tags]
    _, interpreters = data.build_projects(rows)
    assert interpreters == ("cp39", "cp310", "cp311", "cp312", "cp313")


def test_project_slots_newest_version_first_with_history():
    rows = [
        result(version="1.9", finished="2025-01-01T00:00:00Z"),
        result(version="1.10", finished="2025-02-01T00:00:00Z", status="unreproducible"),
        result(version="1.10", finished="2025-02-02T00:00:00Z"),
        result(version="1.10", finished="2025-02-03T00:00:00Z", status="error", message="index down"),
    ]
    (project,), interpreters = data.build_projects(rows)
    slots = data.project_slots(project, interpreters)
    assert [s.version for s in slots] == ["1.10", "1.9"]
    assert slots[0].current.finished == "2025-02-02T00:00:00Z"
    assert slots[0].pending.message == "index down"
    assert [r.status for r in slots[0].earlier] == ["unreproducible"]


# -- counts, trend, changes --------------------------------------------------------------------


def test_counts_per_status_and_interpreter():
    rows = [
        result("a", interpreter="cp311"),
        result("a", interpreter="cp312", status="unreproducible"),
        result("b", interpreter="cp311", status="build-failed"),
        result("b", interpreter="cp312", status="error"),
    ]
    projects, interpreters = data.build_projects(rows)
    overall, per = data.summarize(projects, interpreters)
    assert overall.total == 4
    assert overall.by_status["reproducible"] == 1 and overall.by_status[data.UNCHECKED] == 1
    assert overall.share("reproducible") == 25.0
    assert per["cp312"].by_status == {**{s: 0 for s in data.STATUS_ORDER}, "unreproducible": 1, data.UNCHECKED: 1}


def test_trend_uses_latest_verdict_as_of_each_day():
    rows = [
        result("a", status="unreproducible", finished="2025-03-01T10:00:00Z"),
        result("b", status="reproducible", finished="2025-03-01T11:00:00Z"),
        result("a", status="reproducible", finished="2025-03-02T10:00:00Z"),
        result("b", status="error", finished="2025-03-03T10:00:00Z"),
    ]
    projects, _ = data.build_projects(rows)
    points = data.trend(projects)
    assert [(p.day, p.reproducible, p.built) for p in points] == [("2025-03-01", 1, 2), ("2025-03-02", 2, 2)]


def test_changes_since_last_run():
    rows = [
        result("fixed", status="unreproducible", finished="2025-03-01T10:00:00Z"),
        result("fixed", status="reproducible", finished="2025-03-02T10:00:00Z"),
        result("broke", status="reproducible", finished="2025-03-01T10:00:00Z"),
        result("broke", status="unreproducible", finished="2025-03-02T11:00:00Z"),
        result("same", status="reproducible", finished="2025-03-01T10:00:00Z"),
        result("same", status="reproducible", finished="2025-03-02T10:00:00Z"),
        result("new", status="unreproducible", finished="2025-03-02T10:00:00Z"),
    ]
    projects, _ = data.build_projects(rows)
    boundary = data.last_run_start(projects)
    assert boundary.startswith("2025-03-02T00:00:00")
    changes = {c.name: c.kind for c in data.changes_since(projects, boundary)}
    assert changes == {"fixed": "fix", "broke": "regression", "new": "new"}
    assert {c.name for c in data.changes_since(projects, "2025-03-02T10:30:00.000000Z")} == {"broke"}


# -- badges and feed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statuses, message, colour",
    [
        (["reproducible"] * 5, "5/5 Pythons", "1a7f37"),
        (["reproducible", "unreproducible", "error"], "1/2 Pythons", "9a6700"),
        (["build-failed"], "0/1 Python", "cf222e"),
        (["error"], "not checked yet", "57606a"),
    ],
)
def test_badge_counts_verdicts_only(statuses, message, colour):
    tags = ["cp39", "cp310", "cp311", "cp312", "cp313"]
    rows = [result(interpreter=t, status=s) for t, s in zip(tags, statuses)]
    (project,), _ = data.build_projects(rows)
    badge = badge_for(project.cells)
    assert badge.endpoint() == {"schemaVersion": 1, "label": "reproducible", "message": message, "color": colour}
    svg = badge_svg(badge)
    assert message in svg and svg.startswith("<svg")


def test_feed_has_one_entry_per_change_and_skips_errors():
    rows = [
        result(status="reproducible", finished="2025-03-01T00:00:00Z"),
        result(status="error", finished="2025-03-02T00:00:00Z"),
        result(status="reproducible", finished="2025-03-03T00:00:00Z"),
        result(status="unreproducible", finished="2025-03-04T00:00:00Z", version="1.1"),
        result(status="reproducible", finished="2025-03-05T00:00:00Z", version="1.2"),
    ]
    projects, _ = data.build_projects(rows)
    changes = data.all_changes(projects)
    assert [c.kind for c in changes] == ["fix", "regression"]
    xml = render_feed(changes, generated="2025-03-06T00:00:00Z", link=lambda c: "projects/six.html")
    assert xml.count("<entry>") == 2
    assert "<title>regression: six 1.1 on cp312 is unreproducible (was reproducible in 1.0)</title>" in xml
    assert "<updated>2025-03-05T00:00:00Z</updated>" in xml


# -- rendering ---------------------------------------------------------------------------------


def hostile_records(tmp_path: Path) -> list[Result]:
    log = tmp_path / "out" / "logs" / "build1.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"compiling...\n{HOSTILE}\n", encoding="utf-8")
    return [
        result(HOSTILE, version=HOSTILE, status="unreproducible", log0="out/logs/build1.log",
               differences=(Difference(HOSTILE, "content", HOSTILE, "timestamps"),), message=HOSTILE),
        result("six", status="reproducible", finished="2025-03-02T00:00:00Z",
               isolation=Isolation("none", False), diffoscope="javascript:alert(1)"),
        result("six", interpreter="cp313", status="error", finished="2025-03-03T00:00:00Z", message="timeout talking to index"),
        result("evil", status="unreproducible", log0="/etc/passwd"),
    ]


@pytest.fixture()
def site(tmp_path):
    out = tmp_path / "site"
    summary = render_site(hostile_records(tmp_path), out, generated="2025-03-04T00:00:00Z", log_root=tmp_path)
    return out, summary


def test_hostile_strings_are_escaped_everywhere(site):
    out, _ = site
    pages = list(out.rglob("*.html")) + [out / "feed.xml"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>window" not in text, page
    project = next(p for p in (out / "projects").iterdir() if p.name.startswith("script"))
    text = project.read_text(encoding="utf-8")
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    assert "javascript:" not in (out / "projects" / "six.html").read_text(encoding="utf-8")


def test_project_names_never_escape_the_site_folder(site):
    out, _ = site
    for path in out.rglob("*"):
        assert out in path.resolve().parents or path.resolve() == out


def test_logs_copied_as_text_only_from_under_the_root(site):
    out, summary = site
    logs = list((out / "logs").rglob("*.txt"))
    assert len(logs) == 1 and HOSTILE in logs[0].read_text(encoding="utf-8")
    assert summary.logs_copied == 1
    assert not any("root:" in p.read_text(errors="replace") for p in out.rglob("*.txt"))


def test_unsandboxed_results_are_flagged(site):
    out, _ = site
    assert "⚠ unsandboxed" in (out / "projects" / "six.html").read_text(encoding="utf-8")
    home = (out / "index.html").read_text(encoding="utf-8")
    assert "built without a sandbox" in home


def test_api_results_hold_latest_verdicts_and_pending_separately(site):
    out, _ = site
    payload = json.loads((out / "api" / "results.json").read_text(encoding="utf-8"))
    verdicts = {(r["name"], r["interpreter"]): r["status"] for r in payload["results"]}
    assert verdicts[("six", "cp312")] == "reproducible"
    assert ("six", "cp313") not in verdicts
    assert [(r["name"], r["status"]) for r in payload["pending"]] == [("six", "error")]
    history = json.loads((out / "api" / "projects" / "six.json").read_text(encoding="utf-8"))
    assert [r["status"] for r in history["results"]] == ["error", "reproducible"]
    badge = json.loads((out / "badges" / "six.json").read_text(encoding="utf-8"))
    assert badge["message"] == "1/1 Python"


def test_render_is_deterministic(tmp_path):
    records = hostile_records(tmp_path)
    first, second = tmp_path / "one", tmp_path / "two"
    render_site(records, first, generated="2025-03-04T00:00:00Z", log_root=tmp_path)
    render_site(list(reversed(records)), second, generated="2025-03-04T00:00:00Z", log_root=tmp_path)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_parallel_render_gives_the_same_bytes(tmp_path):
    from tests.bench.site import synthetic_results

    records = synthetic_results(420, versions=1)
    one, two = tmp_path / "one", tmp_path / "two"
    render_site(records, one, generated=GENERATED, workers=1)
    render_site(records, two, generated=GENERATED, workers=2)
    for path in sorted(p for p in one.rglob("*") if p.is_file()):
        assert path.read_bytes() == (two / path.relative_to(one)).read_bytes(), path


def test_rerender_replaces_the_site_and_refuses_foreign_folders(tmp_path):
    out = tmp_path / "site"
    render_site([result("a")], out, generated=GENERATED)
    render_site([result("b")], out, generated=GENERATED)
    assert not (out / "projects" / "a.html").exists() and (out / "projects" / "b.html").exists()
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(PipelineError, match="refusing"):
        render_site([result("a")], foreign, generated=GENERATED)
    assert (foreign / "thesis.tex").exists()


def test_css_colour_pairs_meet_wcag_aa():
    css = (Path(data.__file__).parent / "static" / "site.css").read_text()
    blocks = [css.split("@media (prefers-color-scheme: dark)")[0], css.split("@media (prefers-color-scheme: dark)")[1]]

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def ratio(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    for block in blocks:
        colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-f]{6})", block))
        for name in ("reproducible", "unreproducible", "build-failed", "timeout", "no-sdist", "not-applicable", "unchecked",
                     "warn"):
            assert ratio(colours[f"{name}-fg"], colours[f"{name}-bg"]) >= 4.5, name
        for name in ("fg", "muted", "link"):
            assert ratio(colours[name], colours["bg"]) >= 4.5, name
            assert ratio(colours[name], colours["surface"]) >= 4.5, name


def test_home_page_stays_small_for_a_big_site(tmp_path):
    from tests.bench.site import synthetic_results

    summary = render_site(synthetic_results(600), tmp_path / "site", generated=GENERATED)
    assert summary.home_bytes < 300 * 1024
    assert summary.projects == 600


def test_main_render_reads_results_files(tmp_path, capsys):
    records = tmp_path / "results.json"
    records.write_text(json.dumps([result("six").to_json(), result("six", status="error").to_json()]))
    assert main(["render", "--results", str(records), "--site", str(tmp_path / "site")]) == 0
    assert "rendered 1 projects from 2 results" in capsys.readouterr().out
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "Last updated 2025-03-01 10:00 UTC" in home


@pytest.mark.parametrize("content, message", [("{nope", "not JSON"), ('{"a": 1}', "expected a JSON list"), ('[{"name": "x"}]', "record 0")])
def test_main_render_bad_input_is_one_line(tmp_path, capsys, content, message):
    records = tmp_path / "results.json"
    records.write_text(content)
    assert main(["render", "--results", str(records), "--site", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_generated_must_be_a_time(tmp_path):
    with pytest.raises(PipelineError, match="not an ISO 8601 time"):
        render_site([result()], tmp_path / "site", generated="now-ish")


@pytest.mark.parametrize("status, mark", [("identical", "= index"), ("equivalent", "≈ index"), ("different", "≠ index")])
def test_a_matrix_cell_carries_the_upstream_marker(tmp_path, status, mark):
    from pipeline.records import Upstream

    render_site([result("up", upstream=Upstream(status, wheel="up-1.0-py3-none-any.whl"))], tmp_path / "site",
                generated="2025-03-01T10:00:00Z")
    matrix = (tmp_path / "site" / "matrix.html").read_text()
    row = next(line for line in matrix.splitlines() if ">up</a></th>" in line)
    assert f"<small>{mark}</small>" in row


def test_extra_files_are_published_as_they_are_and_the_history_is_linked(tmp_path):
    plain = render_site([result()], tmp_path / "plain", generated=GENERATED)
    assert "Download the whole history" not in (plain.out_dir / "api.html").read_text()
    extra = {"history/index.json": b"{}\n", "history/all.jsonl.gz": b"\x1f\x8b bytes"}
    site = render_site([result()], tmp_path / "site", generated=GENERATED, extra=extra)
    assert site.files == plain.files + 2
    assert (site.out_dir / "history" / "all.jsonl.gz").read_bytes() == b"\x1f\x8b bytes"
    assert '<a href="history/all.jsonl.gz" download>Download the whole history</a>' in (site.out_dir / "api.html").read_text()
    for bad in ("../outside.json", "/etc/x", "index.html"):
        with pytest.raises(PipelineError, match="refusing to publish"):
            render_site([result()], tmp_path / "bad", generated=GENERATED, extra={bad: b"x"})
    assert not (tmp_path / "outside.json").exists()
# -- Requires-Python and agreement across interpreters ---------------------------------------------


def _matrix_row(site: Path, name: str) -> str:
    matrix = (site / "matrix.html").read_text(encoding="utf-8")
    return next(line for line in matrix.splitlines() if f">{name}</a></th>" in line)


def _cells(row: str) -> list[str]:
    return re.findall(r'<td class="(st-[\w-]+)[^"]*">(.*?)</td>', row)


def test_not_applicable_is_grey_counted_apart_and_never_a_verdict(tmp_path):
    old = result("req", "2.32.5", "cp39", "reproducible", "2025-03-01T10:00:00Z")
    na = result("req", "2.34.2", "cp39", "not-applicable", "2025-03-02T10:00:00Z", requires_python=">=3.10",
                message="requires Python >=3.10 (this interpreter is 3.9.18)")
    new = result("req", "2.34.2", "cp312", "reproducible", "2025-03-02T10:00:00Z")
    (project,), tags = data.build_projects([old, na, new])
    cell = project.cells["cp39"]
    assert (cell.status, cell.verdict, cell.not_applicable) == ("not-applicable", None, na)
    assert badge_for(project.cells).message == "1/1 Python", "the excluded Python is not counted against it"
    overall, per = data.summarize([project], tags)
    assert (per["cp39"].total, per["cp39"].by_status["not-applicable"]) == (0, 1)
    assert overall.total == 1 and overall.share("reproducible") == 100.0
    assert data.trend([project])[-1].checked == 1, "the cell left the trend when it stopped applying"

    render_site([old, na, new], tmp_path / "site", generated=GENERATED)
    cells = _cells(_matrix_row(tmp_path / "site", "req"))
    assert [c[0] for c in cells] == ["st-not-applicable", "st-reproducible"]
    assert "not applicable" in cells[0][1] and "needs Python &gt;=3.10" in cells[0][1]
    api = json.loads((tmp_path / "site" / "api" / "results.json").read_text())
    assert sorted((r["interpreter"], r["status"]) for r in api["results"]) == [("cp312", "reproducible"),
                                                                             ("cp39", "not-applicable")]
    page = (tmp_path / "site" / "projects" / "req.html").read_text()
    assert "Requires-Python</dt><dd><code>&gt;=3.10</code>" in page
    assert "nox -s check -- req==2.34.2" in page


def test_a_verdict_after_not_applicable_takes_the_cell_back():
    na = result("req", "2.34.2", "cp39", "not-applicable", "2025-03-01T10:00:00Z")
    verdict = result("req", "2.32.5", "cp39", "build-failed", "2025-03-02T10:00:00Z")
    error = result("req", "2.32.5", "cp39", "error", "2025-03-03T10:00:00Z")
    (project,), _ = data.build_projects([na, verdict, error])
    cell = project.cells["cp39"]
    assert (cell.status, cell.verdict, cell.pending, cell.not_applicable) == ("build-failed", verdict, error, None)


def test_a_cell_on_an_older_release_than_the_row_says_which(tmp_path):
    rows = [result("req", "2.32.5", "cp39"), result("req", "2.34.2", "cp312"), result("req", "2.34.2", "cp313")]
    (project,), _ = data.build_projects(rows)
    assert project.latest_version == "2.34.2", "the row's version is the newest any cell shows, not the last checked"
    render_site(rows, tmp_path / "site", generated=GENERATED)
    row = _matrix_row(tmp_path / "site", "req")
    assert "<td>2.34.2</td>" in row
    cells = _cells(row)
    assert "<small>2.32.5</small>" in cells[0][1] and "<small>" not in cells[1][1] + cells[2][1]


def _six(tag: str, sha: str, setuptools: str, finished: str = "2025-03-01T10:00:00Z"):
    env = Environment("fp-" + tag, "base-" + tag, "3.x", tag, ("pip==26 --hash=sha256:aa",),
                      (f"setuptools=={setuptools} --hash=sha256:bb",), "/env")
    builds = tuple(Build("six-1.17.0-py2.py3-none-any.whl", sha, 1.0, None, None, 0, "/b") for _ in range(2))
    return result("six", "1.17.0", tag, "reproducible", finished, builds=builds, environment=env)


def test_agreement_across_pythons_on_the_matrix_the_page_and_every_api_record(tmp_path):
    rows = [_six("cp39", "9" * 64, "75.3.2"), _six("cp312", "a" * 64, "80.9.0"), _six("cp313", "a" * 64, "80.9.0")]
    render_site(rows, tmp_path / "site", generated=GENERATED)
    assert '<td class="ag ag-differs">≠ 2 wheels</td>' in _matrix_row(tmp_path / "site", "six")
    page = (tmp_path / "site" / "projects" / "six.html").read_text()
    assert "Across Pythons:</strong> the pure wheel differs" in page
    assert "build lock: setuptools==75.3.2 on cp39; setuptools==80.9.0 on cp312, cp313" in page
    records = json.loads((tmp_path / "site" / "api" / "projects" / "six.json").read_text())["results"]
    assert {json.dumps(r["agreement"], sort_keys=True) for r in records} == {json.dumps({
        "status": "differs", "wheels": {"cp39": "9" * 64, "cp312": "a" * 64, "cp313": "a" * 64},
        "reasons": ["build lock: setuptools==75.3.2 on cp39; setuptools==80.9.0 on cp312, cp313"],
        "differences": []}, sort_keys=True)}, "every record of the release carries the same answer"

    same = [_six("cp312", "a" * 64, "80.9.0"), _six("cp313", "a" * 64, "80.9.0")]
    render_site(same, tmp_path / "site2", generated=GENERATED)
    assert '<td class="ag ag-same">= same wheel</td>' in _matrix_row(tmp_path / "site2", "six")
    results = json.loads((tmp_path / "site2" / "api" / "results.json").read_text())["results"]
    assert [r["agreement"]["status"] for r in results] == ["same", "same"]
# -- the index's wheel reproduced (pipeline.upstream) ------------------------------------------------


def _pypi_results():
    from pipeline.records import Toolchain, Upstream

    chain = Toolchain("matched", generator="flit 3.11.0", backend="flit-core", version="3.11.0",
                      source="WHEEL Generator and METADATA of ok-1.0-py3-none-any.whl", cutoff="2025-03-05T20:05:00Z",
                      cutoff_source="PEP 700", resolver="uv 0.13.9", lock=(f"flit-core==3.11.0 --hash=sha256:{'a' * 64}",),
                      source_date_epoch="1741204276", timestamps="one time on every entry", today="different",
                      notes=(HOSTILE,))
    return [
        result("ok", upstream=Upstream("identical", wheel="ok-1.0-py3-none-any.whl", toolchain=chain)),
        result("near", upstream=Upstream("equivalent", toolchain=Toolchain("not-needed"))),
        result("off", upstream=Upstream("different", toolchain=Toolchain("not-inferred", reason="unknown backend"))),
        result("binary", upstream=Upstream("not-comparable")),
        result("none"),
    ]


def test_upstream_counts_count_reproduced_index_wheels_among_those_compared():
    projects, _ = data.build_projects(_pypi_results())
    counts = data.upstream_counts(projects)
    assert (counts.compared, counts.reproduced, counts.matched) == (3, 2, 2)
    assert counts.by_status == {"different": 1, "equivalent": 1, "identical": 1, "not-comparable": 1}


def test_the_site_marks_filters_counts_and_explains_the_index_wheel(tmp_path):
    render_site(_pypi_results(), tmp_path / "site", generated="2025-03-01T10:00:00Z")
    site = tmp_path / "site"
    matrix = (site / "matrix.html").read_text()
    cells = {name: next(line for line in matrix.splitlines() if f">{name}</a></th>" in line)
             for name in ("ok", "near", "off", "binary", "none")}
    assert "pypi-ok" in cells["ok"] and "pypi-ok" in cells["near"] and "pypi-no" in cells["off"]
    assert "pypi-" not in cells["binary"] + cells["none"]
    assert 'name="pypi"' in matrix and "reproduced (identical or equivalent)" in matrix
    home = (site / "index.html").read_text()
    assert re.search(r"PyPI's wheel reproduced</dt><dd><a href=\"matrix.html\?pypi=ok\">2</a> <span class=\"small\">of 3",
                     home)
    page = (site / "projects" / "ok.html").read_text()
    assert "Rebuilt with the toolchain that made it" in page
    assert "<code>flit-core==3.11.0</code> from <code>flit 3.11.0</code> in its <code>WHEEL</code>" in page
    assert "everything else as uploaded before 2025-03-05T20:05:00Z (PEP 700)" in page
    assert "<code>SOURCE_DATE_EPOCH=1741204276</code>" in page and "with today's toolchain (the controlled rebuild): different" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "Toolchain not inferred</strong>: unknown backend" in (site / "projects" / "off.html").read_text()


def test_a_verdict_says_how_to_rederive_it_from_its_json_and_where_the_tool_comes_from(tmp_path):
    env = Environment("f" * 64, "b" * 64, "3.12.9", "cp312", ("pip==1 --hash=sha256:" + "0" * 64,), (), "/env")
    records = [dataclasses.replace(result("six", "1.17.0", environment=env),
                                   reproduce="wheelrepro check --from-record /root/private/out six==1.17.0 "
                                             "--python 3.12.9"),
               result("six", "1.17.0", "cp313", status="build-failed", environment=env, builds=())]
    render_site(records, tmp_path / "plain", generated=GENERATED)
    render_site(records, tmp_path / "site", generated=GENERATED, repository="https://git.example/wheelrepro.git")
    plain = (tmp_path / "plain" / "projects" / "six.html").read_text()
    page = (tmp_path / "site" / "projects" / "six.html").read_text()

    rederive = ('<code id="d-1.17.0-cp312" data-record="../api/projects/six.json">wheelrepro check --from-record '
                "../api/projects/six.json six==1.17.0 --python 3.12.9</code>")
    assert rederive in plain and "<code>pipx install .</code> in a checkout" in plain
    assert 'data-copy="d-1.17.0-cp312"' in plain and "d-1.17.0-cp313" not in plain, "a build failure has no wheel to verify"
    assert (tmp_path / "plain" / "api" / "projects" / "six.json").is_file(), "the record it names is published"
    spec = "pipx run --spec git+https://git.example/wheelrepro.git wheelrepro"
    assert f"{spec} check --from-record ../api/projects/six.json six==1.17.0 --python 3.12.9</code>" in page
    assert f'<code id="r-1.17.0-cp312">{spec} check six==1.17.0 --python 3.12</code>' in page
    assert 'The tool comes from <a href="https://git.example/wheelrepro.git"' in page
    assert "/root/private/out" not in page + plain, "the store it was made in is the maker's machine's alone"
    assert "Check the release anew" in page


def test_the_feed_never_shows_the_store_a_verdict_was_made_in():
    from pipeline.site.data import Change
    from pipeline.site.feed import entry_summary

    env = Environment("f" * 64, "b" * 64, "3.12.9", "cp312", (), (), "/env")
    verdict = dataclasses.replace(result("six", "1.17.0", status="unreproducible", environment=env),
                                  reproduce="wheelrepro check --from-record /root/private/out six==1.17.0 --python 3.12.9")
    summary = entry_summary(Change("six", "cp312", None, verdict))
    assert "/root/private/out" not in summary and "the command is on its page" in summary
    failed = dataclasses.replace(result("six", "1.17.0", status="build-failed", builds=()),
                                 reproduce="wheelrepro check six==1.17.0 --python 3.12")
    assert "Reproduce with: wheelrepro check six==1.17.0 --python 3.12" in entry_summary(Change("six", "cp312", None, failed))
