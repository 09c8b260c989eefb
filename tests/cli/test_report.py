"""The text a person reads: the results table and the per-result details."""

from __future__ import annotations

from pipeline.records import Difference, Result


def test_the_report_names_the_variations_and_what_they_changed():
    from pipeline.cli.report import details

    result = Result(name="p", version="1", python="3.11.9", interpreter="cp311", status="reproducible",
                    started="", finished="", reproduce="r", sensitive_to=("build_path", "umask"),
                    variation_differences=(Difference("p/_x.so", "content", "ELF: paths only in A", "build_path"),))
    text = "\n".join(details([result]))
    assert "sensitive to: build_path, umask" in text
    assert "differs under variations:" in text and "build_path" in text and "p/_x.so" in text


def test_the_table_has_a_row_per_result_with_both_hashes():
    from pipeline.cli.report import table

    rows = [Result(name=n, version="1", python="3.12.4", interpreter="cp312", status=s, started="", finished="",
                   reproduce="r") for n, s in (("alpha", "reproducible"), ("beta", "build-failed"))]
    lines = table(rows).strip().splitlines()
    assert lines[0].split()[:4] == ["package", "version", "python", "status"]
    assert lines[2].split()[:5] == ["alpha", "1", "3.12.4", "ok", "reproducible"]
    assert lines[3].split()[:5] == ["beta", "1", "3.12.4", "FAIL", "build-failed"]
