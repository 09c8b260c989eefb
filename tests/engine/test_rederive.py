"""A record read as hostile data: what is refused before anything is fetched, which records a file gives,
the exact interpreter, what uv's log says about a lock, and the verdict against the record (pure)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from pipeline.engine.build import CONTROLS
from pipeline.engine.interpreters import Interpreter
from pipeline.engine.net import Client
from pipeline.engine.prepare import Locks
from pipeline.engine.rederive import (RECORD_CAP, Plan, environment_refusal, exact_interpreter, plan, read_records,
                                      select, verdict)
from pipeline.errors import InvalidRecords, RebuildUnavailable, RecordRefused
from pipeline.records import Artifact, Build, Environment, Result

SHA = "ab" * 32
LINE = f"flit-core==3.11.0 --hash=sha256:{'fe' * 32}"
TOOLCHAIN = (f"build==1.4.4 --hash=sha256:{'01' * 32}", f"pip==26.0.1 --hash=sha256:{'02' * 32}")


def record(**changes) -> Result:
    env = Environment("f" * 64, "b" * 64, "3.12.4", "cp312", TOOLCHAIN, (LINE,), "/envs/x", {"cc": "gcc 14"})
    base = Result(name="demo", version="1.0", python="3.12.4", interpreter="cp312", status="reproducible",
                  started="2026-01-01T00:00:00Z", finished="2026-01-01T00:01:00Z", reproduce="r",
                  sdist=Artifact("demo-1.0.tar.gz", "https://files.example/demo-1.0.tar.gz", "cd" * 32),
                  environment=env, controls={**CONTROLS, "pair": "at once"}, index_url="https://pypi.org/simple/",
                  builds=(Build("demo-1.0-py3-none-any.whl", SHA, 1.0, None, None, 0, "/b"),) * 2)
    return dataclasses.replace(base, **changes)


def test_a_sound_record_plans_a_rebuild_with_its_own_locks():
    planned = plan(record(), remote=True)
    assert planned.locks == Locks(toolchain=TOOLCHAIN, build=(LINE,)) and planned.recorded == (SHA,)
    unrepro = record(status="unreproducible", builds=(
        Build("w", SHA, 1, None, None, 0, "/b"), Build("w", "cd" * 32, 1, None, None, 0, "/b"),
        Build("w", "ef" * 32, 1, None, None, 0, "/b", variations=("umask",))))
    assert plan(unrepro, remote=False).recorded == (SHA, "cd" * 32), "a variation build's wheel is not the record's"


def _env(**changes) -> Environment:
    return dataclasses.replace(record().environment, **changes)


@pytest.mark.parametrize("changes, says", [
    (dict(status="error", builds=()), "nothing to verify: the record is 'error'"),
    (dict(status="build-failed"), "nothing to verify: the record is 'build-failed'"),
    (dict(status="not-applicable"), "nothing to verify"),
    (dict(name="Demo"), "not a canonical project name"),
    (dict(name="../demo"), "not a canonical project name"),
    (dict(version="1.0; rm -rf /"), "is not a version"),
    (dict(python="3.12"), "not an exact CPython version"),
    (dict(interpreter="cp313"), "not an exact CPython version"),
    (dict(builds=(Build("w", None, 1, None, None, 1, "/b"),)), "no wheel sha256"),
    (dict(builds=(Build("w", "not-a-digest", 1, None, None, 0, "/b"),)), "no wheel sha256"),
    (dict(environment=None), "no environment"),
    (dict(environment=_env(requirements=(LINE.replace("fe", "zz", 1),))), f"the build lock line {LINE.replace('fe', 'zz', 1)!r}"),
    (dict(environment=_env(requirements=("flit-core>=3 --hash=sha256:" + "fe" * 32,))), "not NAME==VERSION"),
    (dict(environment=_env(requirements=(LINE + " ; os.system('x')",))), "not NAME==VERSION"),
    (dict(environment=_env(requirements=(LINE.replace("3.11.0", "three"),))), "not NAME==VERSION"),
    (dict(environment=_env(toolchain=(TOOLCHAIN[0], "pip==26.0.1"))), "the toolchain lock line 'pip==26.0.1'"),
    (dict(sdist=Artifact("demo-1.0.tar.gz", "https://f.example/demo-1.0.tar.gz", None)), "no sdist sha256"),
    (dict(sdist=Artifact("other-1.0.tar.gz", "https://f.example/other-1.0.tar.gz", SHA)), "is not demo 1.0's"),
    (dict(sdist=Artifact("../demo-1.0.tar.gz", "https://f.example/x", SHA)), "its file name has a path in it"),
    (dict(sdist=Artifact("demo-1.0.tar.gz", "file:///etc/demo-1.0.tar.gz", SHA)), "may not name local files"),
    (dict(index_url="file:///srv/index/"), "its index URL 'file:///srv/index/'"),
    (dict(sdist=Artifact("demo-1.0.tar.gz", "ftp://f.example/demo-1.0.tar.gz", SHA)), "is not an http(s) URL"),
])
def test_a_record_that_does_not_check_out_is_refused_before_anything_is_fetched(changes, says):
    with pytest.raises(RecordRefused) as refused:
        plan(record(**changes), remote=True)
    assert says in str(refused.value)


def test_a_local_record_may_name_local_files_and_other_controls_are_unavailable():
    local = record(sdist=Artifact("demo-1.0.tar.gz", "file:///srv/demo-1.0.tar.gz", "cd" * 32),
                   index_url="file:///srv/index/")
    assert plan(local, remote=False).record is local
    with pytest.raises(RebuildUnavailable, match="the record's controls are not this tool's .*TZ=Europe/Paris"):
        plan(record(controls={**CONTROLS, "TZ": "Europe/Paris"}), remote=False)


def test_a_file_of_records_gives_the_newest_verdict_of_each_release_picked(tmp_path):
    older = record(finished="2026-01-01T00:00:00Z")
    newer = record(finished="2026-02-01T00:00:00Z", builds=(Build("w", "cd" * 32, 1, None, None, 0, "/b"),))
    failed_later = record(finished="2026-03-01T00:00:00Z", status="error", builds=())
    other = record(name="other", python="3.11.7", interpreter="cp311")
    records = [older, newer, failed_later, other]
    assert select(records, [], []) == [newer, other], "an error after a verdict does not hide the verdict"
    assert select(records, ["demo"], []) == [newer]
    assert select(records, ["demo==1.0.0"], []) == [newer], "versions compare as versions"
    assert select(records, ["demo==2.0"], []) == []
    assert select(records, [], ["3.11"]) == [other] == select(records, [], ["3.11.7"])
    assert select([failed_later], [], []) == [failed_later], "kept, to be refused with its status"


def test_records_are_read_from_a_list_the_site_api_or_one_record_under_a_cap(tmp_path):
    client = Client()
    site = tmp_path / "six.json"
    site.write_text(json.dumps({"name": "demo", "results": [record().to_json()]}))
    one = tmp_path / "result.json"
    one.write_text(json.dumps(record().to_json()))
    assert read_records(str(site), client) == [record()] == read_records(site.as_uri(), client)
    assert read_records(str(one), client) == [record()]
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(RECORD_CAP + 1)
    for path, says in ((big, "cap"), (tmp_path / "missing.json", "no such file")):
        with pytest.raises(InvalidRecords, match=says):
            read_records(str(path), client)
    bad = tmp_path / "bad.json"
    for text, says in (("{", "not JSON"), ("[]", "no records"), ('[{"name": "x"}]', "record 0 is not a result"),
                       ('{"results": 3}', "expected a JSON list")):
        bad.write_text(text)
        with pytest.raises(InvalidRecords, match=says):
            read_records(str(bad), client)


def test_only_the_exact_interpreter_is_taken(tmp_path, monkeypatch):
    for name, value in (("PATH", "/nowhere"), ("HOME", str(tmp_path)), ("PYENV_ROOT", str(tmp_path / "pyenv"))):
        monkeypatch.setenv(name, value)
    for name in ("UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for version in ("3.12.7", "3.12.4"):
        (tmp_path / "pyenv" / "versions" / version / "bin").mkdir(parents=True)
        (tmp_path / "pyenv" / "versions" / version / "bin" / "python3.12").touch()

    def prober(path: str) -> Interpreter:
        version = Path(path).parents[1].name
        return Interpreter(version, "cp312", path, str(Path(path).parents[1]))

    assert exact_interpreter("3.12.4", "cp312", prober).version == "3.12.4"
    with pytest.raises(RebuildUnavailable) as unavailable:
        exact_interpreter("3.12.1", "cp312", prober)
    assert str(unavailable.value) == ("environment unavailable: record built with CPython 3.12.1 (cp312), "
                                      "this machine has 3.12.4, 3.12.7")
    with pytest.raises(RebuildUnavailable, match="this machine has no CPython 3.11"):
        exact_interpreter("3.11.2", "cp311", prober)


UV_HASH = f"""error: Failed to download `flit-core==3.11.0`
  cause: Hash mismatch for `flit-core==3.11.0`

         Expected:
           sha256:{'00' * 32}

         Computed:
           sha256:{'fe' * 32}
"""
UV_MISSING = ("  cause: Because there is no version of flit-core==3.11.0 and you require flit-core==3.11.0, we can "
              "conclude that your requirements are unsatisfiable.")


def test_uvs_log_names_the_lock_line_that_is_refused_or_unavailable():
    planned = plan(record(), remote=False)
    refusal = environment_refusal(planned, "noise\n" + UV_HASH)
    assert isinstance(refusal, RecordRefused)
    assert str(refusal) == (f"refused the lock line {LINE!r}: the file the index (or --find-links) serves for it has "
                            f"sha256 {'fe' * 32} (uv's hash check failed)")
    missing = environment_refusal(planned, UV_MISSING)
    assert isinstance(missing, RebuildUnavailable) and f"{LINE} is on neither the index nor --find-links" in str(missing)
    assert environment_refusal(planned, UV_HASH.replace("flit-core", "other")) is None, "a line the record lacks"
    assert environment_refusal(planned, "error: the index could not be reached") is None


def _wheel(path: Path, text: str) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("demo/__init__.py", (1980, 1, 1, 0, 0, 0)), text)
    path.write_bytes(buffer.getvalue())
    return path


def test_the_verdict_is_verified_for_a_recorded_sha256_and_differs_with_the_members_otherwise(tmp_path):
    import hashlib

    recorded = _wheel(tmp_path / "recorded.whl", "VALUE = 1\n")
    rebuilt = _wheel(tmp_path / "rebuilt.whl", "VALUE = 2\n")
    sha_recorded, sha_rebuilt = (hashlib.sha256(p.read_bytes()).hexdigest() for p in (recorded, rebuilt))
    planned = Plan(record(), Locks(TOOLCHAIN, (LINE,)), (sha_recorded,))
    build = lambda sha, path: Build("w", sha, 1.0, str(path), None, 0, "/b")  # noqa: E731
    same = record(builds=(build(sha_recorded, recorded),) * 2)
    v = verdict(planned, "r.json", same, None)
    assert (v.status, v.rebuilt, v.recorded, v.record) == ("verified", sha_recorded, (sha_recorded,), "r.json")

    other = record(builds=(build(sha_rebuilt, rebuilt),) * 2,
                   environment=dataclasses.replace(record().environment, inputs={"cc": "gcc 15"}))
    v = verdict(planned, "r.json", other, recorded)
    assert v.status == "differs" and v.rebuilt == sha_rebuilt
    assert [d.path for d in v.differences] == ["demo/__init__.py"]
    assert v.notes == ("cc: recorded 'gcc 14', here 'gcc 15'",)
    v = verdict(planned, "r.json", other, None)
    assert v.status == "differs" and not v.differences and "not at hand" in v.reason

    failed = record(status="build-failed", message="build 1: exit 1", builds=(build(None, None),))
    v = verdict(planned, "r.json", failed, recorded)
    assert v.status == "unavailable" and "the rebuild made no wheel (build-failed: build 1: exit 1)" == v.reason


@pytest.mark.parametrize("field, value", [("name", 5), ("version", None), ("python", 3.12), ("interpreter", ["cp312"]),
                                          ("index_url", {"a": 1})])
def test_a_record_whose_identity_is_not_text_is_refused_when_read(tmp_path, field, value):
    data = record().to_json()
    data[field] = value
    path = tmp_path / "r.json"
    path.write_text(json.dumps([data]))
    with pytest.raises(InvalidRecords, match=f"record 0: {field} is not a string"):
        read_records(str(path), Client())


def test_odd_json_types_inside_a_record_are_refused_not_a_crash(tmp_path):
    cases = [(dict(sdist=Artifact("demo-1.0.tar.gz", 5, "cd" * 32)), RecordRefused, "its sdist URL '5'"),
             (dict(controls={**CONTROLS, "TZ": ["UTC"]}), RebuildUnavailable, "TZ=['UTC']"),
             (dict(environment=_env(toolchain=(5,))), RecordRefused, "the toolchain lock line '5'")]
    for changes, error, says in cases:
        with pytest.raises(error, match=re.escape(says)):
            plan(record(**changes), remote=False)


def test_json_nested_past_the_parsers_depth_is_refused_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidRecords, match="nested too deep"):
        read_records(str(path), Client())
