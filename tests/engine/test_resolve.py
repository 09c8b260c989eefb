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


# -- Requires-Python: the release pip would pick on each interpreter ------------------------------

PY39, PY312 = "3.9.18", "3.12.4"


def _requires_index(index, *, on_index: bool):
    """demo 1.0 (any Python), 2.0 (>=3.10), 2.1 yanked (any), 3.0rc1 (any): the index says so, or only
    each sdist's PKG-INFO does."""
    for version, spec, yanked in (("1.0", ">=3.8", False), ("2.0", ">=3.10", False), ("2.1", ">=3.8", True),
                                  ("3.0rc1", ">=3.8", False)):
        index.add("demo", f"demo-{version}.tar.gz", intree_sdist("demo", version, requires_python=spec),
                  yanked=yanked, requires_python=spec if on_index else None)


@pytest.mark.parametrize("on_index", [True, False], ids=["index", "pkg-info"])
def test_each_interpreter_gets_the_newest_final_unyanked_release_it_admits(index, tmp_path, on_index):
    from pipeline.engine.resolve import resolve_per_python
    from pipeline.engine.target import pkg_info_fill

    _requires_index(index, on_index=on_index)
    client = Client()
    fill = pkg_info_fill(client, tmp_path / "sdists")
    chosen = resolve_per_python(client, index.url, "demo", [PY39, PY312], fill)
    assert {p: r.version for p, r in chosen.items()} == {PY39: "1.0", PY312: "2.0"}
    assert (chosen[PY39].requires_python, chosen[PY312].requires_python) == (">=3.8", ">=3.10")
    fetched = sorted(p.name for p in (tmp_path / "sdists").rglob("*.tar.gz"))
    assert fetched == ([] if on_index else ["demo-1.0.tar.gz", "demo-2.0.tar.gz"]), \
        "PKG-INFO is read only when the index does not say, and only for the candidates looked at"


def test_html_and_json_indexes_carry_requires_python(index, tmp_path):
    _requires_index(index, on_index=True)
    html_page = (index.root / "simple" / "demo" / "index.html").read_text()
    assert 'data-requires-python="&gt;=3.10"' in html_page
    assert resolve_release(Client(), index.url, "demo", python=PY39).version == "1.0"
    page = tmp_path / "simple" / "demo"
    page.mkdir(parents=True)
    files = [{"filename": f"demo-{v}.tar.gz", "url": f"../../files/demo-{v}.tar.gz", "hashes": {"sha256": "ab" * 32},
              "requires-python": spec} for v, spec in (("1.0", ">=3.7"), ("2.0", ">= 3.11, <4"))]
    (page / "index.json").write_text(json.dumps({"meta": {"api-version": "1.1"}, "name": "demo", "files": files}))
    url = (tmp_path / "simple").as_uri()
    assert resolve_release(Client(), url, "demo", python="3.10.1").version == "1.0"
    assert resolve_release(Client(), url, "demo", python="3.11.0").requires_python == ">= 3.11, <4"


def test_a_pinned_release_is_that_release_whatever_it_requires(index):
    _requires_index(index, on_index=True)
    release = resolve_release(Client(), index.url, "demo==2.0", python=PY39)
    assert (release.version, release.requires_python) == ("2.0", ">=3.10")


def test_when_no_release_admits_the_interpreter_the_newest_is_returned_to_be_called_not_applicable(index):
    index.add("modern", "modern-1.0.tar.gz", intree_sdist("modern", "1.0"), requires_python=">=3.11")
    index.add("modern", "modern-2.0.tar.gz", intree_sdist("modern", "2.0"), requires_python=">=3.12")
    release = resolve_release(Client(), index.url, "modern", python=PY39)
    assert (release.version, release.requires_python) == ("2.0", ">=3.12")


def test_choose_is_pure_and_follows_pip():
    from packaging.version import Version

    from pipeline.engine.resolve import choose
    from pipeline.records import Artifact, Release

    def rel(version, spec, yanked=False, sdist=True):
        art = Artifact(f"x-{version}.tar.gz", "u", "0" * 64, yanked=yanked)
        return Release("x", version, art if sdist else None, (), "", spec)

    releases = {Version(r.version): r for r in (rel("1.0", None), rel("1.5", ">=3.9", yanked=True),
                                                 rel("2.0b1", ""), rel("2.0", ">=3.10"), rel("3.0", "garbage!"))}
    # an unreadable specifier admits every interpreter, as pip treats it
    assert choose(releases, "x", None, PY39).version == "3.0"
    del releases[Version("3.0")]
    assert choose(releases, "x", None, PY39).version == "1.0", "yanked 1.5 and the pre-release are passed over"
    assert choose(releases, "x", None, PY312).version == "2.0"
    assert choose(releases, "x", None).version == "2.0", "no interpreter: the newest final"
    prereleases = {Version("1.0a1"): rel("1.0a1", ">=3.8"), Version("1.0b1"): rel("1.0b1", ">=3.11")}
    assert choose(prereleases, "x", None, PY39).version == "1.0a1", "only pre-releases: the newest admitted one"
