"""The check command as a user runs it: exit codes, refused inputs, the output, the store, --json, Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.cli import exit_code, main
from pipeline.engine import net
from pipeline.nightly.store import Store
from pipeline.records import Result
from tests.conftest import ROOT
from tests.sdists import _tar, intree_sdist


def _result(status: str) -> Result:
    return Result(name="x", version="1", python="3.12.1", interpreter="cp312", status=status, started="", finished="",
                  reproduce="")


@pytest.mark.parametrize(
    "statuses, code",
    [(["reproducible"], 0), (["reproducible", "unreproducible"], 1), (["reproducible", "build-failed"], 2),
     (["timeout"], 2), (["error"], 2), (["no-sdist"], 2), (["unreproducible", "error"], 1), ([], 2),
     (["not-applicable"], 0), (["not-applicable", "reproducible"], 0), (["not-applicable", "build-failed"], 2),
     (["not-applicable", "unreproducible"], 1)],
)
def test_exit_codes_gate_a_release(statuses, code):
    assert exit_code([_result(s) for s in statuses]) == code


def _cli(*args: str, out, cwd=ROOT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "check", *args, "--out", str(out)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          **kwargs)


def _wheel_only(name: str, version: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
    return buffer.getvalue()


def _stored(out: Path) -> list[Result]:
    with Store.open(out) as store:
        return store.all_results()


def test_bad_inputs_are_refused_once_and_the_others_go_on(index, tmp_path, sandboxed, capsys):
    """A hostile file name (%00) once stopped the whole run with a traceback; the package after it never ran."""
    data = intree_sdist("nulpkg", "1.0")
    digest = index.add("nulpkg", "nulpkg-1.0.tar.gz", data)
    index.projects["nulpkg"] = [("x", f'<a href="../../files/nul%00pkg-1.0.tar.gz#sha256={digest}">x</a>')]
    index._write("nulpkg")
    index.add("known", "known-1.0.tar.gz", intree_sdist("known", "1.0"))
    index.add("wheelonly", "wheelonly-1.0-py3-none-any.whl", _wheel_only("wheelonly", "1.0"))
    text = tmp_path / "fake-1.0.tar.gz"
    text.write_text("this is not an archive\n" * 40)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("known>=1\n")
    out = tmp_path / "out"
    argv = ["check", "nulpkg", "nosuchpkg", "known==9", str(text), "./nothing-here.tar.gz", "wheelonly",
            "-r", str(requirements), "--python", "3.11", "--index-url", index.url, "--out", str(out),
            "--json", str(tmp_path / "r.json"), *([] if sandboxed else ["--unsandboxed"])]
    code = main(argv)
    captured = capsys.readouterr()

    assert code == 2
    refusals = [line for line in captured.err.splitlines() if line.startswith("refused: ")]
    assert len(refusals) == 6, captured.err
    for fragment in ("refused: nulpkg: ", "refused: nosuchpkg: no project named 'nosuchpkg'",
                     "refused: known==9: known has no release 9 (latest: 1.0)",
                     f"refused: {text}: {text} is not a tar archive, so not an sdist",
                     "refused: ./nothing-here.tar.gz: no such file: ./nothing-here.tar.gz",
                     f"refused: {requirements}:1: known>=1: not an exact pin; give NAME==VERSION"):
        assert fragment in captured.err
    for argument in ("nosuchpkg", "known==9", str(text)):
        assert captured.out.count(argument) == 0, "a refusal is said once, on stderr"
    assert "Traceback" not in captured.err + captured.out
    assert "wheelonly 1.0 on Python 3.11" in captured.err, "the innocent package after the bad ones was checked"

    records = json.loads((tmp_path / "r.json").read_text())
    assert [(r["name"], r["status"]) for r in records] == [
        ("nulpkg", "error"), ("nosuchpkg", "error"), ("known", "error"), (str(text), "error"),
        ("./nothing-here.tar.gz", "error"), ("wheelonly", "no-sdist"), ("known", "error")]
    assert records[2]["version"] == "9" and "no release 9" in records[2]["message"]
    assert all(r["reproduce"].startswith("wheelrepro check ") for r in records)
    assert [(r.name, r.status) for r in _stored(out)] == [("wheelonly", "no-sdist")], \
        "only a real release's record is kept in the store"
    traceback_file = re.search(r"traceback: (\S+)\)", captured.err)
    if traceback_file:  # the NUL byte reached the file system: the tracker's error, its traceback kept
        Path(traceback_file.group(1)).unlink()


def test_hashes_are_enforced_and_markers_evaluated(index, tmp_path, sandboxed, capsys):
    digest = index.add("hashpkg", "hashpkg-1.0.tar.gz", intree_sdist("hashpkg", "1.0"))
    index.add("wheelonly", "wheelonly-1.0-py3-none-any.whl", _wheel_only("wheelonly", "1.0"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"hashpkg==1.0 --hash=sha256:{'0' * 64}\n"
                            f"wheelonly==1.0 ; python_version < '3.11' --hash=sha256:{'1' * 64}\n")
    out = tmp_path / "out"
    code = main(["check", "-r", str(requirements), "--python", "3.11", "--index-url", index.url, "--out", str(out),
                 "--json", "-", *([] if sandboxed else ["--unsandboxed"])])
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert code == 2
    assert [(r["name"], r["status"]) for r in records] == [("hashpkg", "error")]
    assert "matches none of the 1 --hash values given for it; refused" in records[0]["message"]
    assert records[0]["sdist"]["sha256"] == digest
    assert captured.err.count("matches none of the 1 --hash values") == 1
    assert "skipped: " in captured.err and "excludes Python 3.11" in captured.err
    assert [r.status for r in _stored(out)] == ["error"], "a refused sdist of a real release is an error, kept"


def test_a_dead_network_is_one_clear_line_after_backing_off(tmp_path, monkeypatch, capsys):
    waits: list[float] = []
    monkeypatch.setattr(net, "DEFAULT_RETRY", net.Retry(attempts=4, backoff=1.0, sleep=waits.append))
    code = main(["check", "six", "--python", "3.11", "--index-url", "http://127.0.0.1:9/simple/", "--unsandboxed",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("cannot reach http://127.0.0.1:9/simple/six/") == 1
    assert "Traceback" not in err
    assert waits == [1.0, 2.0, 4.0], "three waits, doubling, between four tries"


def test_an_sdist_url_is_fetched_as_given(index, tmp_path, make_checker):
    index.add("urlpkg", "urlpkg-1.0.tar.gz", intree_sdist("urlpkg", "1.0"))
    url = (index.root / "files" / "urlpkg-1.0.tar.gz").as_uri()
    target = make_checker(index).target(url)
    assert (target.name, target.version, target.argument, target.from_index) == ("urlpkg", "1.0", url, False)
    assert target.sdist.url == url and target.sdist_path.read_bytes() == intree_sdist("urlpkg", "1.0")


@pytest.mark.slow
def test_a_check_prints_one_line_each_the_details_of_what_differs_and_the_table_last(
        index, tmp_path, shared_out, wheelhouse, sandboxed):
    index.add("clipkg", "clipkg-2.0.tar.gz", intree_sdist("clipkg", "2.0"))
    index.add("randpkg", "randpkg-1.0.tar.gz", intree_sdist("randpkg", "1.0", behaviour="random"))
    local = tmp_path / "dist" / "localpkg-0.1.tar.gz"
    local.parent.mkdir()
    local.write_bytes(intree_sdist("localpkg", "0.1"))
    extra = ["--unsandboxed"] if not sandboxed else []
    proc = _cli("clipkg", "dist/localpkg-0.1.tar.gz", "randpkg", "--python", "3.11", "--index-url", index.url,
                "--find-links", str(wheelhouse), "--json", "-", *extra, out=shared_out, cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr
    records = json.loads(proc.stdout)  # stdout is the JSON alone
    assert [(r["name"], r["status"]) for r in records] == [
        ("clipkg", "reproducible"), ("localpkg", "reproducible"), ("randpkg", "unreproducible")]
    assert records[1]["sdist"]["url"] == local.resolve().as_uri()
    assert records[1]["reproduce"] == (f"wheelrepro check --from-record {shared_out.resolve()} localpkg==0.1 "
                                       f"--python {records[1]['python']} --find-links {wheelhouse} --timeout 1800 "
                                       "--memory 8" + " --unsandboxed" * (not sandboxed)), "rebuilt from the store"
    err = proc.stderr.splitlines()
    assert "clipkg 2.0 on Python 3.11" in proc.stderr and "randpkg 1.0 on Python 3.11" in proc.stderr
    assert not any("build 2/2" in line for line in err), "phases only with -v"
    table = err.index(next(line for line in err if line.startswith("package ")))
    assert [line.split()[0] for line in err[table + 2:]] == ["clipkg", "localpkg", "randpkg"], "the table is last"
    details = "\n".join(err[:table])
    assert "randpkg 1.0 on Python" in details and "cause              kind        member: detail" in details
    assert "clipkg 2.0 on Python 3.11.7 (cp311): reproducible" not in details, "details only for what differs"
    assert sorted((r.name, r.status) for r in _stored(shared_out) if r.name in ("clipkg", "localpkg", "randpkg")
                  )[-3:] == [("clipkg", "reproducible"), ("localpkg", "reproducible"), ("randpkg", "unreproducible")]

    verbose = _cli("clipkg", "--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse), "-v",
                   *extra, out=shared_out)
    assert verbose.returncode == 0 and "[cp311] build 2/2" in verbose.stderr
    assert "clipkg 2.0 on Python 3.11" in verbose.stdout and "reproduce:  wheelrepro check --from-record " in verbose.stdout
    quiet = _cli("clipkg", "--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse), "-q",
                 *extra, out=shared_out)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout.strip().splitlines()[0].startswith("package ") and len(quiet.stdout.strip().splitlines()) == 3


@pytest.mark.slow
def test_a_failed_run_starts_from_an_empty_kept_folder_and_names_its_log(index, tmp_path, shared_out, wheelhouse,
                                                                          sandboxed, interpreters):
    index.add("failpkg", "failpkg-1.0.tar.gz", intree_sdist("failpkg", "1.0", behaviour="fail"))
    kept = shared_out / "builds" / "failpkg" / "1.0" / "cp311"
    (kept / "1").mkdir(parents=True, exist_ok=True)
    stale = kept / "1" / "failpkg-1.0-py3-none-any.whl"
    stale.write_bytes(b"an earlier run's wheel")
    proc = _cli("failpkg", "--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse),
                *([] if sandboxed else ["--unsandboxed"]), out=shared_out)
    assert proc.returncode == 2
    assert not stale.exists(), "no earlier run's wheel sits next to this run's log"
    line = next(line for line in proc.stderr.splitlines() if line.startswith("failpkg 1.0 on Python"))
    assert ": build-failed: build 1: the build exited with" in line
    log = Path(line.rsplit("; log: ", 1)[1])
    assert log.is_absolute() and log == kept / "1" / "build.log" and "this package does not build" in log.read_text()


@pytest.mark.slow
def test_ctrl_c_during_set_up_leaves_no_temporary_folder_and_no_record(index, tmp_path, wheelhouse, sandboxed):
    """Ctrl-C reaches the whole foreground process group; builds run in their own sessions."""
    index.add("slowpkg", "slowpkg-1.0.tar.gz", intree_sdist("slowpkg", "1.0"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"  # a fresh out/: the environment is made from nothing, which takes a while
    command = [sys.executable, "-m", "pipeline", "check", "slowpkg", "--python", "3.11", "--index-url", index.url,
               "--find-links", str(wheelhouse), "--out", str(out), "-v", "--json", str(tmp_path / "r.json"),
               *([] if sandboxed else ["--unsandboxed"])]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "] environment" in line:
            break
    assert proc.poll() is None and list(tmp.glob("wheelrepro-run-*")), "interrupted while setting up"
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, "".join(seen) + rest
    assert "check: interrupted" in rest
    assert list(tmp.iterdir()) == [], "no temporary folder is left behind"
    assert not (tmp_path / "r.json").exists(), "a killed build is no verdict"
    assert [r.message for r in _stored(out)] == [], "nor the tracker's error"


@pytest.mark.slow
def test_an_environment_failure_names_the_environment_log(index, tmp_path, shared_out, wheelhouse, sandboxed):
    top = "needspkg-1.0"
    pyproject = ('[build-system]\nrequires = ["no-such-requirement-anywhere==1.0"]\n'
                 'build-backend = "setuptools.build_meta"\n[project]\nname = "needspkg"\nversion = "1.0"\n')
    index.add("needspkg", "needspkg-1.0.tar.gz", _tar({f"{top}/pyproject.toml": pyproject.encode(),
                                                        f"{top}/PKG-INFO": b"Metadata-Version: 2.1\n"}))
    proc = _cli("needspkg", "--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse),
                *([] if sandboxed else ["--unsandboxed"]), out=shared_out)
    assert proc.returncode == 2
    line = next(line for line in proc.stderr.splitlines() if line.startswith("needspkg 1.0 on Python"))
    log = Path(line.rsplit("; log: ", 1)[1])
    assert log == shared_out / "builds" / "needspkg" / "1.0" / "cp311" / "environment.log", line
    assert "no-such-requirement-anywhere" in log.read_text()
    assert f"log:        {log}" in proc.stdout, "the details name it too"
def test_a_pinned_release_that_excludes_the_python_is_not_applicable_builds_nothing_exits_0(index, tmp_path):
    index.add("newonly", "newonly-2.0.tar.gz", intree_sdist("newonly", "2.0", "fail"), requires_python=">=3.12")
    out = tmp_path / "out"
    proc = _cli("newonly==2.0", "--python", "3.11", "--index-url", index.url, "--unsandboxed",
                "--json", str(tmp_path / "r.json"), out=out)
    assert proc.returncode == 0, proc.stderr
    assert "n/a  not-applicable" in proc.stdout
    assert "why:        requires Python >=3.12 (this interpreter is 3.11." in proc.stdout
    (record,) = json.loads((tmp_path / "r.json").read_text())
    assert (record["status"], record["requires_python"], record["builds"], record["environment"]) == (
        "not-applicable", ">=3.12", [], None)
    assert record["reproduce"].startswith("wheelrepro check newonly==2.0 --python 3.11")
    assert not (out / "builds").exists() or not any((out / "builds").rglob("*.whl")), "nothing was built"


def test_a_local_sdist_whose_pkg_info_excludes_the_python_is_not_applicable(tmp_path):
    local = tmp_path / "dist" / "localnew-1.0.tar.gz"
    local.parent.mkdir()
    local.write_bytes(intree_sdist("localnew", "1.0", "fail", requires_python=">=3.99"))
    proc = _cli(str(local), "--python", "3.11", "--unsandboxed", "--json", str(tmp_path / "r.json"),
                out=tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    (record,) = json.loads((tmp_path / "r.json").read_text())
    assert record["status"] == "not-applicable" and record["message"].startswith("requires Python >=3.99")
def _upstream_result(status: str | None, build: str = "reproducible") -> Result:
    from pipeline.records import Upstream

    return Result(name="x", version="1", python="3.12.1", interpreter="cp312", status=build, started="", finished="",
                  reproduce="", upstream=Upstream(status) if status else None)


@pytest.mark.parametrize("statuses, code", [
    (["identical", "equivalent"], 0), (["identical", "different"], 1), (["no-wheel"], 1), (["not-comparable"], 1),
    ([None], 1), (["identical", "not-checked"], 2), ([], 2),
])
def test_require_upstream_fails_unless_every_index_wheel_is_reproduced(statuses, code):
    from pipeline.cli.check import upstream_exit_code

    assert upstream_exit_code([_upstream_result(s) for s in statuses]) == code


def test_require_upstream_cannot_be_combined_with_no_upstream(tmp_path, capsys):
    assert main(["check", "six", "--require-upstream", "--no-upstream", "--out", str(tmp_path)]) == 2
    assert "--require-upstream needs the comparison" in capsys.readouterr().err
