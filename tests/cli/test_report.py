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


# -- the index's wheel: the PyPI column and the inferred toolchain (pipeline.upstream) ----------------

def _with_upstream(name: str, upstream):
    return Result(name=name, version="1", python="3.12.4", interpreter="cp312", status="reproducible", started="",
                  finished="", reproduce="r", upstream=upstream)


def test_the_table_has_a_pypi_column_marking_comparisons_without_the_index_toolchain():
    from pipeline.cli.report import NOT_MATCHED_FOOTNOTE, table
    from pipeline.records import Toolchain, Upstream

    rows = [_with_upstream("alpha", Upstream("identical", toolchain=Toolchain("matched"))),
            _with_upstream("beta", Upstream("different", toolchain=Toolchain("not-inferred", reason="unknown"))),
            _with_upstream("gamma", None), _with_upstream("delta", Upstream("no-wheel"))]
    lines = table(rows).strip().splitlines()
    assert lines[0].split()[-1] == "pypi"
    assert [line.split()[-1] for line in lines[2:6]] == ["identical", "different*", "-", "no-wheel"]
    assert lines[-1] == NOT_MATCHED_FOOTNOTE


def test_the_details_say_which_toolchain_was_inferred_and_from_where():
    from pipeline.cli.report import details
    from pipeline.records import Toolchain, Upstream

    chain = Toolchain("matched", generator="flit 3.11.0", backend="flit-core", version="3.11.0",
                      cutoff="2025-03-05T20:05:00Z", lock=("flit-core==3.11.0 --hash=sha256:" + "a" * 64,),
                      source_date_epoch=None, timestamps="several entry times", today="different")
    text = "\n".join(details([_with_upstream("p", Upstream("identical", note="the same bytes", toolchain=chain))]))
    assert "toolchain: matched: flit-core==3.11.0 (from 'flit 3.11.0' in its WHEEL), the rest as of 2025-03-05T20:05:00Z" in text
    assert "SOURCE_DATE_EPOCH=unset: several entry times" in text
    assert "lock: flit-core==3.11.0; with today's toolchain: different" in text
    missing = Toolchain("not-inferred", reason="unknown build backend: WHEEL says Generator: bazel-wheelmaker 1.0")
    text = "\n".join(details([_with_upstream("p", Upstream("different", toolchain=missing))]))
    assert "toolchain: not-inferred: unknown build backend: WHEEL says Generator: bazel-wheelmaker 1.0" in text


def test_the_details_give_the_command_that_rebuilds_a_record_from_where_it_was_written():
    from pipeline.cli.report import details

    result = Result(name="p", version="1", python="3.11.9", interpreter="cp311", status="reproducible",
                    started="", finished="", reproduce="wheelrepro check p==1 --python 3.11")
    assert "re-derive:" not in "\n".join(details([result]))
    text = "\n".join(details([result], rederive=lambda r: f"wheelrepro check --from-record r.json {r.name}=={r.version}"))
    assert "  reproduce:  wheelrepro check p==1 --python 3.11\n  re-derive:  wheelrepro check --from-record r.json p==1" in text
