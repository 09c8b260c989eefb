"""Resolution on PEP 691 JSON and PEP 503 HTML indexes, over file:// and http; hostile pages entry by entry."""

from __future__ import annotations

import hashlib
import html
import json
import re

import pytest

from pipeline.engine import resolve
from pipeline.engine.fetch import fetch_artifact
from pipeline.engine.net import Client
from pipeline.engine.resolve import fetch_files, parse_requirement, resolve_release
from pipeline.errors import IndexRefused, ProjectNotFound, UsageError, VersionNotFound
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


# -- hostile pages: each bad entry is refused with its reason, the rest of the page still resolves ---------

GOOD = intree_sdist("demo", "1.0")
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
#: (file name, URL as the page writes it, sha256 or None): what a hostile index lists beside a good file.
#: A PEP 503 page names a file by its URL's last segment, so the URLs end with the file name
HOSTILE = [
    ("demo-2.0.tar.gz", "file:///etc/passwd#/demo-2.0.tar.gz", "ab" * 32),
    ("demo-2.1.tar.gz", "javascript:alert(1)//demo-2.1.tar.gz", "ab" * 32),
    ("demo-2.2.tar.gz", "data:application/gzip;base64,H4sIAAAAAAAAA2NgGAWjYBQMLQAAVe6rtgAEAAA=/demo-2.2.tar.gz", "ab" * 32),
    ("demo-2.3.tar.gz", "../../files/demo-2.3.tar.gz", "../../../../etc/passwd"),
    ("demo-2.4.tar.gz", "../../files/demo-2.4.tar.gz", None),
    ("passwd", "file:///etc/passwd", "ab" * 32),
]
REASONS = {
    "demo-2.0.tar.gz": "is a file: URL on an http index; only a file: index may point at local files",
    "demo-2.1.tar.gz": "has the scheme javascript:, and only http, https are fetched",
    "demo-2.2.tar.gz": "has the scheme data:, and only http, https are fetched",
    "demo-2.3.tar.gz": "its sha256 '../../../../etc/passwd' is not 64 hex digits",
    "demo-2.4.tar.gz": "the index publishes no sha256 for it, so its bytes cannot be verified",
    "passwd": "its URL 'file:///etc/passwd' is a file: URL on an http index",
}
NUL_NAME = "demo-1.1\x00.tar.gz"


def _hostile_page(index, kind: str) -> None:
    index.add("demo", "demo-1.0.tar.gz", GOOD)  # the file on disk (and an HTML page replaced below)
    rows = [("demo-1.0.tar.gz", "../../files/demo-1.0.tar.gz", GOOD_SHA), *HOSTILE,
            (NUL_NAME, "../../files/demo-1.1%00.tar.gz", "cd" * 32)]
    folder = index.root / "simple" / "demo"
    (folder / "index.html").unlink()
    if kind == "json":
        files = [{"filename": name, "url": url, "hashes": {"sha256": sha} if sha else {}} for name, url, sha in rows]
        (folder / "index.json").write_text(json.dumps({"meta": {"api-version": "1.1"}, "name": "demo", "files": files}))
    else:
        # a file: URL's fragment is not its path: the HTML form of the first row names its file in the path
        rows[1] = ("demo-2.0.tar.gz", "file:///etc/demo-2.0.tar.gz", "ab" * 32)
        links = [f'<a href="{html.escape(url)}{"#sha256=" + sha if sha else ""}">{html.escape(name)}</a>'
                 for name, url, sha in rows]
        (folder / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>")


@pytest.mark.parametrize("kind", ["html", "json"])
def test_hostile_entries_are_refused_one_by_one_and_the_rest_resolve(http_index, tmp_path, kind):
    index, url = http_index
    _hostile_page(index, kind)
    client = Client()
    files, _ = fetch_files(client, url, "demo")

    refused = {f.filename: f.refused for f in files if f.refused}
    for name, reason in REASONS.items():
        assert reason in refused[name], (name, refused[name])
    assert refused[f"<{ascii(NUL_NAME)}>"] == "its file name has control or unprintable characters"
    usable = {f.filename: f for f in files if not f.refused}
    assert set(usable) == {"demo-1.0.tar.gz"}
    assert all(not f.url for f in files if f.refused), "a refused entry keeps no URL to fetch"

    good = resolve_release(client, url, "demo==1.0")
    assert good.sdist.sha256 == GOOD_SHA and not good.sdist.refused
    store = tmp_path / "store"
    assert fetch_artifact(client, good.sdist, store).read_bytes() == GOOD
    for version in ("2.0", "2.1", "2.2", "2.3", "2.4"):
        release = resolve_release(client, url, f"demo=={version}")
        name = f"demo-{version}.tar.gz"
        with pytest.raises(IndexRefused, match=f"refused {re.escape(name)}: .*{re.escape(REASONS[name])}"):
            fetch_artifact(client, release.sdist, store)
    latest = resolve_release(client, url, "demo")
    assert latest.version == "2.4" and latest.sdist.refused == REASONS["demo-2.4.tar.gz"]
    stored = [p for p in store.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == ["demo-1.0.tar.gz"], "nothing else was fetched, /etc/passwd least of all"


def test_a_file_index_may_point_at_local_files(index, tmp_path):
    elsewhere = tmp_path / "mirror" / "demo-1.0.tar.gz"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(GOOD)
    index.add("demo", "demo-0.9.tar.gz", intree_sdist("demo", "0.9"))
    page = index.root / "simple" / "demo" / "index.html"
    page.write_text(page.read_text().replace(
        "</body>", f'<a href="{elsewhere.as_uri()}#sha256={GOOD_SHA}">demo-1.0.tar.gz</a></body>'))
    release = resolve_release(Client(), index.url, "demo")
    assert release.version == "1.0" and not release.sdist.refused and release.sdist.url == elsewhere.as_uri()
    assert fetch_artifact(Client(), release.sdist, tmp_path / "store").read_bytes() == GOOD


def test_a_page_of_nothing_but_unusable_names_says_why(http_index):
    index, url = http_index
    folder = index.root / "simple" / "demo"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text('<a href="../../files/demo-1.0%00.tar.gz">x</a><a href="a/%2e%2e">y</a>')
    with pytest.raises(IndexRefused, match=r"refused every file of demo on .*: <'demo-1\.0\\x00\.tar\.gz'>: its file name"):
        resolve_release(Client(), url, "demo")


@pytest.mark.parametrize("kind", ["html", "json"])
def test_a_page_listing_too_many_files_is_refused(index, monkeypatch, kind):
    monkeypatch.setattr(resolve, "MAX_FILES", 50)
    folder = index.root / "simple" / "demo"
    folder.mkdir(parents=True)
    if kind == "html":
        (folder / "index.html").write_text("<a href=x>x</a>" * 51)
    else:  # empty objects: the cheapest way to make json.loads allocate
        (folder / "index.json").write_text(json.dumps({"files": [{}] * (8 * 50 + 1)}))
    with pytest.raises(IndexRefused, match="more .*than 50 files"):
        fetch_files(Client(), index.url, "demo")
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
