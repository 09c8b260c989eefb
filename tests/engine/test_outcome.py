"""The one place a Result is made, and the one reproduce command."""

from __future__ import annotations

from pipeline.engine.options import CheckOptions
from pathlib import Path

from pipeline.engine.outcome import Draft, error_result, rederive_command, reproduce_command
from pipeline.engine.sandbox import GiB
from pipeline.records import Build


def test_the_reproduce_command_carries_every_option_that_changes_the_result():
    assert reproduce_command("six==1.17.0", "3.12", CheckOptions()) == (
        "wheelrepro check six==1.17.0 --python 3.12 --timeout 1800 --memory 8")
    options = CheckOptions(index_url="https://mirror.example/simple/", find_links=("/srv/wheels",), timeout=900.0,
                           memory=int(1.5 * GiB), unsandboxed=True, sequential=True, vary=True, out=Path("/elsewhere"))
    command = reproduce_command("six==1.17.0", "3.12", options)
    assert command == ("wheelrepro check six==1.17.0 --python 3.12 --index-url https://mirror.example/simple/ "
                       "--find-links /srv/wheels --timeout 900 --memory 1.5 --unsandboxed --sequential --vary")
    assert "--out" not in command, "builds see constant paths: the results folder does not change the bytes"
    assert "--index-url" not in reproduce_command("./x-1.tar.gz", "3.12", options, from_index=False)
    assert reproduce_command("odd name; rm -rf /", "3.12", CheckOptions()).startswith(
        "wheelrepro check 'odd name; rm -rf /' --python 3.12")


def test_the_command_that_rederives_a_record_names_it_and_the_exact_python():
    assert rederive_command("https://site.example/api/projects/six.json", "six", "1.17.0", "3.12.4") == (
        "wheelrepro check --from-record https://site.example/api/projects/six.json six==1.17.0 --python 3.12.4")
    options = CheckOptions(index_url="https://mirror.example/simple/", find_links=("/srv/wheels",))
    assert rederive_command("r.json", "six", "1.17.0", "3.12.4", options) == (
        "wheelrepro check --from-record r.json six==1.17.0 --python 3.12.4 --find-links /srv/wheels "
        "--timeout 1800 --memory 8"), "the record names its index: only one given on the command line is repeated"
    assert "--index-url https://mirror.example/simple/" in rederive_command("r.json", "six", "1", "3.12.4", options,
                                                                             index=True)


def test_a_draft_finishes_into_a_result_with_the_shared_fields():
    draft = Draft("demo", "1.0", "3.12.4", "cp312", "nox -s check -- demo==1.0 --python 3.12").controlled()
    build = Build("demo-1.0-py3-none-any.whl", "ab" * 32, 1.0, "/w", "/l", 0, "/b")
    result = draft.finish("reproducible", builds=(build, build))
    assert (result.name, result.status, result.builds) == ("demo", "reproducible", (build, build))
    assert result.controls["SOURCE_DATE_EPOCH"] == "315532800" and result.started <= result.finished
    assert result.tracker


def test_an_error_record_keeps_the_index_it_was_asked_for():
    result = error_result("six", "1.17.0", "3.12.4", "cp312", "cannot reach the index",
                          CheckOptions(index_url="https://mirror.example/simple/"))
    assert result.status == "error" and not result.is_verdict
    assert result.index_url == "https://mirror.example/simple/" and "--index-url https://mirror" in result.reproduce


def test_a_verdict_with_a_wheel_is_reproduced_from_its_record_anything_else_by_checking_again():
    draft = Draft("demo", "1.0", "3.12.4", "cp312", "wheelrepro check demo==1.0 --python 3.12",
                  rederive="wheelrepro check --from-record /out demo==1.0 --python 3.12.4")
    for status in ("reproducible", "unreproducible"):
        assert draft.finish(status).reproduce == "wheelrepro check --from-record /out demo==1.0 --python 3.12.4"
    for status in ("build-failed", "timeout", "error", "not-applicable"):
        assert draft.finish(status).reproduce == "wheelrepro check demo==1.0 --python 3.12", status
