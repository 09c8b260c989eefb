"""Package lists: parsing, canonical names, de-duplication, the committed lists, the refresh."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.cli.nightly import main_lists
from pipeline.errors import InvalidList, PipelineError
from pipeline.nightly.lists import ListEntry, load_lists, parse_list, refresh_top_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("requests", ("requests", None)),
        ("PyYAML", ("pyyaml", None)),
        ("Typing_Extensions  # a comment", ("typing-extensions", None)),
        ("cryptography==44.0.0", ("cryptography", "44.0.0")),
        ("  zope.interface == 7.1  ", ("zope-interface", "7.1")),
    ],
)
def test_valid_lines(line, expected):
    [entry] = parse_list(line, "x.txt")
    assert (entry.name, entry.version) == expected
    assert entry.source == "x.txt:1"


def test_comments_and_blank_lines_are_skipped():
    assert parse_list("# header\n\n   \n# another\n", "x.txt") == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("two words", "expected NAME or NAME==VERSION"),
        ("requests>=2", "expected NAME or NAME==VERSION"),
        ("-e .", "expected NAME or NAME==VERSION"),
        ("requests==", "empty version"),
        ("requests==not a version", "is not a valid version"),
        ("==1.0", "expected NAME or NAME==VERSION"),
    ],
)
def test_invalid_lines_name_file_and_line(line, reason):
    with pytest.raises(InvalidList) as caught:
        parse_list(f"good\n# fine\n{line}\n", "lists/mine.txt")
    message = str(caught.value)
    assert message.startswith("lists/mine.txt:3: ") and reason in message and "\n" not in message


def test_names_are_deduplicated_across_lists_keeping_pins(tmp_path):
    (tmp_path / "a.txt").write_text("PyYAML\nrequests\ncryptography\n")
    (tmp_path / "b.txt").write_text("pyyaml\nRequests\ncryptography==41.0.7\n")
    (tmp_path / "notes.md").write_text("not a list\n")
    entries = load_lists(lists_dir=tmp_path)
    assert [e.spec for e in entries] == ["pyyaml", "requests", "cryptography", "cryptography==41.0.7"]
    assert entries[0] == ListEntry("pyyaml", None, f"{tmp_path / 'a.txt'}:1")


def test_explicit_lists_and_missing_ones(tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("two\n")
    assert [e.name for e in load_lists([tmp_path / "b.txt"], lists_dir=tmp_path)] == ["two"]
    with pytest.raises(PipelineError, match="cannot read list"):
        load_lists([tmp_path / "missing.txt"])
    with pytest.raises(PipelineError, match="no package lists"):
        load_lists(lists_dir=tmp_path / "empty")


def test_the_committed_lists_parse():
    top = load_lists([ROOT / "lists/top-pypi.txt"])
    assert len(top) == 100 and len({e.name for e in top}) == 100
    assert {"boto3", "requests", "numpy", "setuptools"} <= {e.name for e in top}
    securedrop = load_lists([ROOT / "lists/securedrop.txt"])
    assert all(e.version for e in securedrop)
    assert {"cryptography", "flask", "sqlalchemy", "pycparser"} <= {e.name for e in securedrop}
    assert "freedomofpress/securedrop" in (ROOT / "lists/securedrop.txt").read_text()


def ranking(n: int) -> dict:
    return {"last_update": "2026-11-01", "rows": [{"project": f"Project_{i}", "download_count": 1000 - i} for i in range(n)]}


def test_refresh_from_a_file_url(tmp_path):
    source = tmp_path / "ranking.json"
    source.write_text(json.dumps(ranking(150)))
    dest = tmp_path / "top.txt"
    outcome = refresh_top_list(dest, source.as_uri())
    assert outcome.updated
    entries = load_lists([dest])
    assert [e.name for e in entries][:2] == ["project-0", "project-1"] and len(entries) == 100
    assert dest.read_text().startswith("# The 100 most downloaded")
    assert source.as_uri() in dest.read_text()


def test_refresh_over_http_from_localhost(tmp_path):
    body = json.dumps(ranking(5)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        agents: list[str] = []

        def do_GET(self):  # noqa: N802 - the stdlib's name
            Handler.agents.append(self.headers.get("User-Agent", ""))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dest = tmp_path / "top.txt"
        assert refresh_top_list(dest, f"http://127.0.0.1:{server.server_port}/top.json").updated
    finally:
        server.shutdown()
        server.server_close()
    assert len(load_lists([dest])) == 5
    assert Handler.agents and Handler.agents[0].startswith("wheel-repro-tracker/")


def test_refresh_offline_keeps_the_committed_file(tmp_path, capsys):
    dest = tmp_path / "top.txt"
    dest.write_text("# committed\nrequests\n")
    outcome = refresh_top_list(dest, "http://127.0.0.1:9/unreachable.json", timeout=2)
    assert not outcome.updated and "kept as committed" in outcome.message
    assert dest.read_text() == "# committed\nrequests\n"
    code = main_lists(["--dest", str(dest), "--url", (tmp_path / "absent.json").as_uri()])
    assert code == 0 and "kept as committed" in capsys.readouterr().out
    assert dest.read_text() == "# committed\nrequests\n"


def test_refresh_refuses_a_malformed_ranking(tmp_path, capsys):
    source = tmp_path / "ranking.json"
    dest = tmp_path / "top.txt"
    dest.write_text("requests\n")
    for payload in ('{"rows": []}', '{"rows": [{"project": "bad name!"}]}', "not json"):
        source.write_text(payload)
        assert main(["lists", "--dest", str(dest), "--url", source.as_uri()]) == 2
        err = capsys.readouterr().err
        assert err.startswith("lists: error: ") and err.count("\n") == 1
    assert dest.read_text() == "requests\n"
