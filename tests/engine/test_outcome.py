"""The one place a Result is made, and the one reproduce command."""

from __future__ import annotations

from pipeline.engine.options import CheckOptions
from pipeline.engine.outcome import Draft, error_result, reproduce_command
from pipeline.records import Build


def test_the_reproduce_command_carries_what_changes_the_result():
    assert reproduce_command("six==1.17.0", "3.12", CheckOptions()) == "nox -s check -- six==1.17.0 --python 3.12"
    options = CheckOptions(index_url="https://mirror.example/simple/", unsandboxed=True, vary=True)
    assert reproduce_command("six==1.17.0", "3.12", options) == (
        "nox -s check -- six==1.17.0 --python 3.12 --index-url https://mirror.example/simple/ --unsandboxed --vary")
    assert "--index-url" not in reproduce_command("./x-1.tar.gz", "3.12", options, from_index=False)
    assert reproduce_command("odd name; rm -rf /", "3.12", CheckOptions()).endswith("'odd name; rm -rf /' --python 3.12")


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
