"""uv resolving build requirements as the index stood at an upload time: on a local PEP 691 index, offline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline.engine.environments import PipSource
from pipeline.engine.provision import Provisioner
from pipeline.engine.workspace import Workspace
from pipeline.errors import EnvironmentFailed, NotInferred
from pipeline.upstream.toolchain import cutoff_stamp, resolve_lock

OLD, NEW = "3.11.0", "3.12.0"
#: when the fixture index says each flit_core was uploaded (the real ones are close)
UPLOADED = {OLD: "2025-02-19T08:22:14.000000Z", NEW: "2025-03-13T09:00:00.000000Z"}


def flit_core(wheelhouse: Path, version: str) -> Path:
    path = wheelhouse / f"flit_core-{version}-py3-none-any.whl"
    if not path.is_file():
        pytest.fail(f"{path.name} is not in the offline wheelhouse: run the tests with `nox -s tests`, which fills it "
                    "from environments/fixtures.txt")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def flit_index(json_index, wheelhouse):
    for version, when in UPLOADED.items():
        json_index.add_file("flit-core", flit_core(wheelhouse, version), when)
    return json_index


def _provisioner(index_url: str, sandboxed: bool, out: Path) -> Provisioner:
    backend = sandbox.choose_backend(unsandboxed=not sandboxed)
    return Provisioner(Workspace(out), backend, sandbox.Limits(timeout=120), PipSource(index_url))


@pytest.fixture
def resolve(flit_index, interpreters, sandboxed, tmp_path, shared_out, wheelhouse):
    provisioner = _provisioner(flit_index.url, sandboxed, shared_out)

    def run(requirements, cutoff, pinned=()):
        return resolve_lock(tuple(requirements), cutoff=cutoff, pinned=tuple(pinned), interpreter=interpreters["3.11"],
                            provisioner=provisioner, log=tmp_path / "uv.log")

    return run


def test_everything_is_cut_off_at_the_upload_time(resolve, wheelhouse):
    assert resolve(["flit_core<4"], "2025-03-01T00:00:00Z") == (
        f"flit-core=={OLD} --hash=sha256:{sha256(flit_core(wheelhouse, OLD))}",)
    assert resolve(["flit_core<4"], "2025-04-01T00:00:00Z") == (
        f"flit-core=={NEW} --hash=sha256:{sha256(flit_core(wheelhouse, NEW))}",)


def test_the_pinned_backend_is_exempt_from_the_cutoff(resolve):
    lock = resolve(["flit_core<4", f"flit-core=={NEW}"], "2025-03-01T00:00:00Z", pinned=["flit-core"])
    assert [line.split()[0] for line in lock] == [f"flit-core=={NEW}"]
    with pytest.raises(NotInferred, match="filtered by `exclude-newer`"):
        resolve([f"flit-core=={NEW}"], "2025-03-01T00:00:00Z")  # not exempt: uv names the cutoff


@pytest.mark.parametrize("requirements, says", [
    (["flit-core==3.10.0"], "flit-core==3.10.0"),  # a version the index no longer has
    (["flit_core>=3.12", f"flit-core=={OLD}"], "unsatisfiable"),  # the sdist's own range excludes the pin
    (["no-such-backend"], "no-such-backend"),
])
def test_what_cannot_be_resolved_is_not_inferred_with_uvs_reason(resolve, requirements, says):
    with pytest.raises(NotInferred, match="cannot be resolved") as raised:
        resolve(requirements, "2025-04-01T00:00:00Z", pinned=["flit-core"])
    assert says in raised.value.reason and "error: No solution found" not in raised.value.reason


@pytest.mark.slow  # uv retries for about 6 s first
def test_an_unreachable_index_is_the_trackers_failure_not_a_verdict(interpreters, sandboxed, tmp_path):
    with pytest.raises(EnvironmentFailed, match="could not be reached") as raised:
        resolve_lock(("flit_core",), cutoff="2025-01-01T00:00:00Z", pinned=(), interpreter=interpreters["3.11"],
                     provisioner=_provisioner("http://127.0.0.1:9/simple/", sandboxed, tmp_path / "out"),
                     log=tmp_path / "uv.log")
    assert not isinstance(raised.value, NotInferred)




@pytest.mark.parametrize("stamp, expected", [
    ("2025-03-05T20:05:00.369721Z", "2025-03-05T20:05:00.369721Z"),
    ("2025-03-05T22:05:00+02:00", "2025-03-05T20:05:00.000000Z"),
    ("2025-03-05T20:05:00", "2025-03-05T20:05:00.000000Z"),
])
def test_upload_times_become_utc_stamps(stamp, expected):
    assert cutoff_stamp(stamp) == expected
