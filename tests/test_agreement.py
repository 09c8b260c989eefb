"""Agreement across interpreters: one pure wheel, the same bytes on every Python, or why not."""

from __future__ import annotations

import pytest

from pipeline.agreement import agreement, groups, is_pure
from pipeline.records import Agreement, Build, Environment, Result

TOOLCHAIN = ("build==1.4.4 --hash=sha256:aa", "pip==26.0.1 --hash=sha256:bb")


def _result(tag: str, sha: str, *, wheel: str = "six-1.17.0-py2.py3-none-any.whl", status: str = "reproducible",
            setuptools: str = "80.9.0", toolchain: tuple[str, ...] = TOOLCHAIN) -> Result:
    env = Environment("fp-" + tag, "base-" + tag, "3.x", tag, toolchain,
                      (f"setuptools=={setuptools} --hash=sha256:cc", "wheel==0.45.1 --hash=sha256:dd"), "/env")
    other = sha if status == "reproducible" else "f" * 64
    builds = tuple(Build(wheel, s, 1.0, None, None, 0, "/b") for s in (sha, other))
    return Result(name="six", version="1.17.0", python="3.x", interpreter=tag, status=status, started="",
                  finished="", reproduce="", builds=builds, environment=env)


@pytest.mark.parametrize("wheel, pure", [
    ("six-1.17.0-py2.py3-none-any.whl", True), ("idna-3.10-py3-none-any.whl", True),
    ("markupsafe-3.0.2-cp312-cp312-manylinux_2_17_x86_64.whl", False), ("x-1-cp312-none-any.whl", False),
    ("x-1-py3-none-linux_x86_64.whl", False), ("not a wheel-none-any.whl", False), (None, False),
])
def test_pure_wheels(wheel, pure):
    assert is_pure(wheel) is pure


def test_the_same_bytes_everywhere_is_same():
    found = agreement([_result("cp312", "a" * 64), _result("cp311", "a" * 64)], order=("cp311", "cp312"))
    assert found == Agreement("same", {"cp311": "a" * 64, "cp312": "a" * 64})
    assert Agreement.from_json(found.to_json()) == found


def test_six_on_39_an_older_setuptools_is_named_as_the_reason():
    results = [_result("cp39", "9" * 64, setuptools="75.3.2")] + [
        _result(tag, "a" * 64) for tag in ("cp310", "cp311", "cp312", "cp313")]
    found = agreement(results, order=("cp39", "cp310", "cp311", "cp312", "cp313"))
    assert found.status == "differs"
    assert groups(found) == [("9" * 64, ("cp39",)), ("a" * 64, ("cp310", "cp311", "cp312", "cp313"))]
    assert found.reasons == ("build lock: setuptools==75.3.2 on cp39; setuptools==80.9.0 on cp310, cp311, cp312, cp313",)


def test_a_pin_that_does_not_split_the_interpreters_as_the_wheels_do_is_no_reason():
    # cp311 and cp312 built the same bytes with different pips: pip is not why cp313 differs
    results = [_result("cp311", "a" * 64), _result("cp312", "a" * 64, toolchain=("build==1.4.4 --hash=sha256:aa",
                                                                                 "pip==25.0 --hash=sha256:ee")),
               _result("cp313", "b" * 64)]
    found = agreement(results)
    assert found.status == "differs" and len(found.reasons) == 1
    assert found.reasons[0].startswith("the toolchain and build locks do not explain it")


@pytest.mark.parametrize("results", [
    [_result("cp312", "a" * 64)],  # one interpreter: nothing to compare
    [_result("cp312", "a" * 64, wheel="x-1-cp312-cp312-linux_x86_64.whl"),
     _result("cp313", "b" * 64, wheel="x-1-cp313-cp313-linux_x86_64.whl")],  # compiled: differs by design
    [_result("cp312", "a" * 64), _result("cp313", "b" * 64, status="unreproducible")],  # no single wheel on cp313
])
def test_no_answer_without_two_pure_reproducible_wheels(results):
    assert agreement(results) is None


def test_interpreters_in_version_order_and_the_reasons_the_members_name():
    from pipeline.agreement import named_by
    from pipeline.records import Difference

    results = [_result("cp312", "a" * 64, toolchain=("pip==26.3 --hash=sha256:aa",)),
               _result("cp39", "9" * 64, setuptools="82.0.1", toolchain=("pip==26.0.1 --hash=sha256:bb",))]
    found = agreement(results)
    assert list(found.wheels) == ["cp39", "cp312"]
    assert found.reasons == ("build lock: setuptools==82.0.1 on cp39; setuptools==80.9.0 on cp312",
                             "toolchain lock: pip==26.0.1 on cp39; pip==26.3 on cp312")
    wheel = Difference("six-1.17.0.dist-info/WHEEL", "content",
                       "cp39 vs cp312: fields: generator: 'setuptools (82.0.1)' -> 'setuptools (80.9.0)'")
    assert named_by(found.reasons, [wheel]) == found.reasons[:1]
    assert named_by(found.reasons, [Difference("six.py", "content", "bytes differ")]) == found.reasons
