"""Resolution on PEP 691 JSON and PEP 503 HTML indexes, over file:// and http."""

from __future__ import annotations

import json

import pytest

from pipeline.engine.net import Client
from pipeline.engine.resolve import parse_requirement, resolve_release
from pipeline.errors import ProjectNotFound, UsageError, VersionNotFound
from tests.sdists import intree_sdist


@pytest.mark.parametrize(
    "text, expected",
    [("six", ("six", None)), ("MarkupSafe==3.0.2", ("markupsafe", "3.0.2")), ("Zope.Interface", ("zope-interface", None))],
)
def test_requirements_are_canonicalised(text, expected):
    assert parse_requirement(text) == expected


@pytest.mark.parametrize("text", ["six>=1", "six==", "", "six @ https://x"])
def test_unreadable_requirements_are_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_requirement(text)


def _populate(index):
    for version in ("1.0", "1.1", "2.0rc1"):
        index.add("demo", f"demo-{version}.tar.gz", intree_sdist("demo", version))
    index.add("demo", "demo-1.2.tar.gz", intree_sdist("demo", "1.2"), yanked=True)
    index.add("demo", "demo-1.3-py3-none-any.whl", b"wheel only")


def test_latest_is_the_newest_final_non_yanked_release_with_an_sdist(index):
    _populate(index)
    release = resolve_release(Client(), index.url, "demo")
    assert release.version == "1.1"
    assert release.sdist.filename == "demo-1.1.tar.gz" and len(release.sdist.sha256) == 64


def test_a_pinned_version_without_sdist_resolves_with_no_sdist(index):
    _populate(index)
    release = resolve_release(Client(), index.url, "demo==1.3")
    assert release.sdist is None and [w.filename for w in release.wheels] == ["demo-1.3-py3-none-any.whl"]


def test_an_unknown_project_and_version_are_clear_errors(index):
    _populate(index)
    with pytest.raises(ProjectNotFound, match="no project named 'nosuch'"):
        resolve_release(Client(), index.url, "nosuch")
    with pytest.raises(VersionNotFound, match="demo has no release 9.9"):
        resolve_release(Client(), index.url, "demo==9.9")


def test_http_index_with_etag_revalidation(http_index, tmp_path):
    index, url = http_index
    _populate(index)
    client = Client(tmp_path / "http-cache")
    assert resolve_release(client, url, "Demo").version == "1.1"
    assert resolve_release(client, url, "demo").version == "1.1"


def test_pep_691_json_pages_are_read(tmp_path):
    page = tmp_path / "simple" / "demo"
    page.mkdir(parents=True)
    files = [{"filename": "demo-3.0.tar.gz", "url": "../../files/demo-3.0.tar.gz", "hashes": {"sha256": "ab" * 32},
              "upload-time": "2026-01-01T00:00:00Z", "yanked": False, "size": 10}]
    (page / "index.json").write_text(json.dumps({"meta": {"api-version": "1.1"}, "name": "demo", "files": files}))
    release = resolve_release(Client(), (tmp_path / "simple").as_uri(), "demo")
    assert (release.version, release.sdist.sha256, release.sdist.upload_time) == ("3.0", "ab" * 32, "2026-01-01T00:00:00Z")
    assert release.sdist.url == (tmp_path / "files" / "demo-3.0.tar.gz").as_uri()
