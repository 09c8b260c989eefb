"""``check --from-record`` as a user runs it: a record made with an older build lock than today's
resolution is rebuilt with that lock and verified; a tampered lock line or sdist digest is refused
before anything is built; another interpreter patch is unavailable; other recorded bytes differ.

The record is made when only flit_core 3.11.0 was there (a find-links folder without 3.12.0); the
rebuild is given the whole offline wheelhouse, where today's resolution picks 3.12.0.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex
import shutil
import zipfile
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.engine import sandbox
from pipeline.engine.check import Checker, CheckOptions
from tests.upstream.test_matching import flit_sdist
from tests.upstream.test_toolchain import NEW, OLD, flit_core, sha256

NAME = "flitrec"


@pytest.fixture(scope="module")
def older_house(wheelhouse, tmp_path_factory) -> Path:
    """The offline wheelhouse as it stood before flit_core 3.12.0 (copies: the sandbox shows the folder)."""
    folder = tmp_path_factory.mktemp("older") / "wheelhouse"  # mktemp's own folder is root's alone
    folder.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if wheel.name != f"flit_core-{NEW}-py3-none-any.whl" and not wheel.name.startswith("uv-"):
            shutil.copyfile(wheel, folder / wheel.name)
    return folder


@pytest.fixture(scope="module")
def made(older_house, tmp_path_factory, shared_out, sandboxed) -> dict:
    """A record of flitrec 1.0 on Python 3.11, made when only flit_core 3.11.0 was published."""
    from tests.sdists import LocalIndex

    root = tmp_path_factory.mktemp("record")
    index = LocalIndex(root / "index")
    index.add(NAME, f"{NAME}-1.0.tar.gz", flit_sdist(NAME, "1.0"))
    record_file = root / "record.json"
    code = main(["check", f"{NAME}==1.0", "--python", "3.11", "--index-url", index.url, "--find-links",
                 str(older_house), "--no-upstream", "--json", str(record_file), "--out", str(shared_out), "-q",
                 *_sandbox(sandboxed)])
    assert code == 0, record_file.read_text() if record_file.exists() else code
    record = json.loads(record_file.read_text())[0]
    wheel = root / Path(record["builds"][0]["path"]).name  # a rebuild empties the kept folder
    shutil.copyfile(record["builds"][0]["path"], wheel)
    return {"index": index, "file": record_file, "record": record, "wheel": wheel}


def _sandbox(sandboxed: bool) -> list[str]:
    return [] if sandboxed else ["--unsandboxed"]


def _from_record(path: Path, out: Path, wheelhouse: Path, sandboxed: bool, *more: str) -> tuple[int, list[dict]]:
    result = path.with_name(path.stem + "-rebuilt.json")
    code = main(["check", "--from-record", str(path), "--find-links", str(wheelhouse), "--out", str(out),
                 "--json", str(result), *_sandbox(sandboxed), *more])
    return code, json.loads(result.read_text())


def _edited(made: dict, tmp_path: Path, edit) -> Path:
    record = json.loads(json.dumps(made["record"]))
    edit(record)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps([record]))
    return path


@pytest.mark.slow
def test_a_record_with_an_older_build_lock_is_rebuilt_with_it_and_verified(made, wheelhouse, shared_out, sandboxed,
                                                                           interpreters, tmp_path, capsys):
    record = made["record"]
    old_line = f"flit-core=={OLD} --hash=sha256:{sha256(flit_core(wheelhouse, OLD))}"
    assert record["status"] == "reproducible" and record["environment"]["lock"]["build"] == [old_line]
    # today, with the whole wheelhouse, the same requirement resolves to the newer backend
    checker = Checker(CheckOptions(out=shared_out, index_url=made["index"].url, find_links=(str(wheelhouse),),
                                   unsandboxed=not sandboxed))
    with sandbox.lease_uid() as uid:
        today = checker.provisioner.resolve(interpreters["3.11"], ["flit_core >=3.2,<4"], tmp_path / "uv.log", uid)
    assert [line.split()[0] for line in today] == [f"flit-core=={NEW}"]

    copy = tmp_path / "record.json"
    copy.write_text(made["file"].read_text())
    code, rebuilt = _from_record(copy, shared_out, wheelhouse, sandboxed)
    out = capsys.readouterr()

    assert code == 0, out.err
    (result,) = rebuilt
    sha = record["builds"][0]["sha256"]
    assert result["verification"]["status"] == "verified" and result["verification"]["rebuilt"] == sha
    assert result["verification"]["record"] == str(copy) and result["verification"]["finished"] == record["finished"]
    assert result["environment"]["lock"]["build"] == [old_line], "built with the record's lock, not today's"
    assert result["environment"]["fingerprint"] == record["environment"]["fingerprint"]
    assert [b["sha256"] for b in result["builds"]] == [sha, sha]
    assert f"verified: {NAME} 1.0 on Python {record['python']} (cp311): wheel sha256 {sha}, as recorded" in out.out
    assert result["reproduce"].startswith(f"wheelrepro check --from-record {copy} {NAME}==1.0 --python "
                                          f"{record['python']} --find-links {wheelhouse}")


@pytest.mark.slow
def test_recorded_bytes_the_rebuild_does_not_make_differ_with_the_member_diff(made, wheelhouse, shared_out,
                                                                              sandboxed, tmp_path, capsys):
    # the recorded wheel, as another machine might have made it: METADATA says something else
    kept = shared_out / "builds" / "elsewhere" / "made.whl"
    kept.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(made["wheel"]) as source, zipfile.ZipFile(kept, "w") as dest:
        for info in source.infolist():
            data = source.read(info)
            dest.writestr(info, data.replace(b"A fixture that flit builds", b"A fixture built elsewhere")
                          if info.filename.endswith("METADATA") else data)
    other = hashlib.sha256(kept.read_bytes()).hexdigest()

    def edit(record):
        for build in record["builds"]:
            build["sha256"], build["path"] = other, str(kept)

    code, (result,) = _from_record(_edited(made, tmp_path, edit), shared_out, wheelhouse, sandboxed)
    out = capsys.readouterr().out

    assert code == 1
    v = result["verification"]
    assert v["status"] == "differs" and v["recorded"] == [other] and v["rebuilt"] == made["record"]["builds"][0]["sha256"]
    assert result["status"] == "reproducible", "the rebuild's own pair still agrees"
    members = {d["path"] for d in v["differences"]}
    assert f"{NAME}-1.0.dist-info/METADATA" in members
    assert f"differs: {NAME} 1.0" in out and "METADATA" in out


@pytest.mark.parametrize("which", ["build", "toolchain"])
@pytest.mark.slow
def test_a_tampered_lock_line_is_refused_naming_it_before_any_build(made, wheelhouse, shared_out, sandboxed,
                                                                    tmp_path, capsys, which):
    lock = made["record"]["environment"]["lock"][which]
    name_version = lock[0].split()[0]
    forged = f"{name_version} --hash=sha256:{'0' * 64}"
    wheel = next(wheelhouse.glob(name_version.replace("-", "_").replace("==", "-") + "-*.whl"))
    path = _edited(made, tmp_path, lambda r: r["environment"]["lock"].update({which: [forged, *lock[1:]]}))
    code, (result,) = _from_record(path, shared_out, wheelhouse, sandboxed)
    err = capsys.readouterr().err

    assert code == 2
    assert result["status"] == "error" and not result["builds"], "no verdict, nothing built"
    assert result["verification"]["status"] == "refused"
    assert f"refused the lock line {forged!r}: the file the index (or --find-links) serves for it has sha256 " \
           f"{sha256(wheel)}" in err
    assert len([line for line in err.splitlines() if "refused" in line]) == 1


@pytest.mark.parametrize("edit, status, says", [
    (lambda r: r["sdist"].update(sha256="ab" * 32), "refused",
     "the sdist flitrec-1.0.tar.gz: the file fetched has sha256 "),
    (lambda r: r.update(python="3.11.0"), "unavailable",
     "environment unavailable: record built with CPython 3.11.0 (cp311), this machine has 3.11."),
    (lambda r: r["environment"]["lock"]["toolchain"].append("pip==26.0.1 --hash=sha256:xyz"), "refused",
     "refused the toolchain lock line 'pip==26.0.1 --hash=sha256:xyz': not NAME==VERSION --hash=sha256:<64 hex"),
    (lambda r: r.update(status="error", builds=[]), "refused", "nothing to verify: the record is 'error'"),
])
@pytest.mark.slow
def test_what_cannot_be_rebuilt_as_recorded_is_said_in_one_line_with_exit_2(made, wheelhouse, shared_out, sandboxed,
                                                                             tmp_path, capsys, edit, status, says):
    code, (result,) = _from_record(_edited(made, tmp_path, edit), shared_out, wheelhouse, sandboxed)
    err = capsys.readouterr().err
    assert code == 2 and result["status"] == "error" and not result["builds"]
    assert result["verification"]["status"] == status and says in err, err


# -- refused before anything is fetched (no builds) ---------------------------------------------

def _record_json(**changes) -> dict:
    from tests.engine.test_rederive import record

    return dataclasses.replace(record(), **changes).to_json()


def test_what_is_not_a_record_to_rebuild_is_one_line_and_exit_2(tmp_path, shared_out, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([_record_json()]))
    cases = [
        (["--from-record", str(tmp_path / "missing.json")], "no such file"),
        (["--from-record", "ftp://x.example/r.json"], "not an http(s):// or file:// URL"),
        (["--from-record", str(path), "-r", str(path)], "--from-record rebuilds what the record says; -r does not"),
        (["--from-record", str(path), "--vary"], "--vary does not go with it"),
        (["--from-record", str(path), "other"], f"{path}: no record matches; it holds demo==1.0 on 3.12.4"),
        (["--from-record", str(path), "--python", "3.11"], "no record matches"),
        (["--from-record", str(path), "demo>=1"], "give NAME or NAME==VERSION"),
    ]
    for argv, says in cases:
        assert main(["check", *argv, "--out", str(shared_out)]) == 2, argv
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, err


def test_a_record_served_over_http_may_not_point_at_local_files(http_index, shared_out, tmp_path, capsys):
    index, url = http_index
    from pipeline.records import Artifact

    hostile = _record_json(sdist=Artifact("demo-1.0.tar.gz", "file:///etc/demo-1.0.tar.gz", "cd" * 32))
    index.root.mkdir(parents=True, exist_ok=True)
    (index.root / "records.json").write_text(json.dumps({"results": [hostile]}))
    record_url = url.replace("/simple/", "/records.json")
    result = tmp_path / "out.json"
    code = main(["check", "--from-record", record_url, "--out", str(shared_out), "--json", str(result)])
    err = capsys.readouterr().err

    assert code == 2
    assert "demo 1.0 on Python 3.12.4 (cp312): refused the record: its sdist URL" in err
    assert "a record read over http may not name local files" in err
    (rebuilt,) = json.loads(result.read_text())
    assert rebuilt["status"] == "error" and rebuilt["verification"]["record"] == record_url
    assert rebuilt["reproduce"].startswith(f"wheelrepro check --from-record {record_url} demo==1.0 --python 3.12.4")


@pytest.mark.slow
def test_the_sites_json_is_a_record_to_rebuild_as_its_page_says(made, wheelhouse, shared_out, sandboxed, tmp_path,
                                                                capsys):
    from pipeline.records import Result
    from pipeline.site import render_site

    site = tmp_path / "site"
    render_site([Result.from_json(made["record"])], site, generated=made["record"]["finished"])
    page = (site / "projects" / f"{NAME}.html").read_text()
    python = made["record"]["python"]
    assert f"wheelrepro check --from-record ../api/projects/{NAME}.json {NAME}==1.0 --python {python}</code>" in page
    api = (site / "api" / "projects" / f"{NAME}.json").as_uri()  # what the page's script makes of the path
    code = main(["check", "--from-record", api, f"{NAME}==1.0", "--python", python, "--find-links", str(wheelhouse),
                 "--out", str(shared_out), *_sandbox(sandboxed)])
    assert code == 0 and f"verified: {NAME} 1.0 on Python {python}" in capsys.readouterr().out


@pytest.mark.slow
def test_the_command_a_check_prints_to_rederive_its_record_verifies_it(made, older_house, shared_out, sandboxed,
                                                                       tmp_path, capsys, monkeypatch):
    import shlex

    monkeypatch.chdir(tmp_path)
    code = main(["check", f"{NAME}==1.0", "--python", "3.11", "--index-url", made["index"].url, "--find-links",
                 str(older_house), "--no-upstream", "--json", "r.json", "--out", str(shared_out), "-v",
                 *_sandbox(sandboxed)])
    out = capsys.readouterr().out
    assert code == 0
    (line,) = [line for line in out.splitlines() if line.startswith("  re-derive:  ")]
    words = shlex.split(line.removeprefix("  re-derive:  "))
    assert words[:5] == ["wheelrepro", "check", "--from-record", "r.json", f"{NAME}==1.0"]
    assert words[5:9] == ["--python", made["record"]["python"], "--index-url", made["index"].url]
    assert main(words[1:]) == 0 and "verified: " in capsys.readouterr().out


@pytest.mark.slow
def test_the_results_store_is_a_source_of_records_too(made, wheelhouse, shared_out, sandboxed, capsys):
    code = main(["check", "--from-record", str(shared_out), f"{NAME}==1.0", "--find-links", str(wheelhouse),
                 "--out", str(shared_out), *_sandbox(sandboxed)])
    assert code == 0 and f"verified: {NAME} 1.0 on Python {made['record']['python']}" in capsys.readouterr().out


@pytest.mark.slow
def test_a_verdicts_own_reproduce_command_rebuilds_it_from_the_store_and_verifies_it(made, shared_out, tmp_path,
                                                                                     capsys):
    record = made["record"]
    words = shlex.split(record["reproduce"])
    assert words[:4] == ["wheelrepro", "check", "--from-record", str(shared_out)], record["reproduce"]
    assert f"{NAME}==1.0" in words and record["python"] in words, "it names the very record"
    result = tmp_path / "again.json"
    code = main([*words[1:], "--out", str(tmp_path / "elsewhere"), "--json", str(result)])
    (again,) = json.loads(result.read_text())
    assert code == 0, capsys.readouterr().err
    assert again["verification"]["status"] == "verified"
    assert again["verification"]["rebuilt"] == record["builds"][0]["sha256"]
    assert again["environment"]["lock"] == record["environment"]["lock"]
