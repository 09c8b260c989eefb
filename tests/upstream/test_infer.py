"""Reading the toolchain off a published wheel and its sdist: Generators, the timestamp rule, refusals."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import zipfile

import pytest

from pipeline.errors import NotInferred
from pipeline.upstream.infer import (
    LEGACY_BACKEND,
    BuildSystem,
    WheelFacts,
    infer,
    parse_generator,
    read_build_system,
    read_wheel,
    timestamp_rule,
)
from tests.sdists import _tar


@pytest.mark.parametrize("generator, parsed", [
    ("setuptools (75.6.0)", ("setuptools", "75.6.0")),
    ("bdist_wheel (0.42.0)", ("bdist_wheel", "0.42.0")),
    ("flit 3.11.0", ("flit", "3.11.0")),
    ("hatchling 1.26.3", ("hatchling", "1.26.3")),
    ("poetry-core 2.3.1", ("poetry-core", "2.3.1")),
    ("pdm-backend (2.5.0)", ("pdm-backend", "2.5.0")),
    ("scikit-build-core 0.10.7", ("scikit-build-core", "0.10.7")),
    ("maturin (1.7.4)", ("maturin", "1.7.4")),
    ("meson", ("meson", "")),
    ("bazel-wheelmaker 1.0", ("bazel-wheelmaker", "1.0")),
    ("", None),
    ("(1.0)", None),
])
def test_parse_generator_reads_the_family_and_version_of_every_known_spelling(generator, parsed):
    assert parse_generator(generator) == parsed


def _wheel(members: dict[str, str], dates=((2024, 5, 1, 12, 0, 0),), create_system=3) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (name, text) in enumerate(members.items()):
            info = zipfile.ZipInfo(name, date_time=dates[index % len(dates)])
            info.create_system = create_system
            archive.writestr(info, text)
    return buffer.getvalue()


DIST = "pkg-1.0.dist-info"


def test_read_wheel_takes_the_generator_metadata_version_and_entry_times(tmp_path):
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    path.write_bytes(_wheel({"pkg/__init__.py": "", f"{DIST}/METADATA": "Metadata-Version: 2.4\nName: pkg\n\nGenerator: no\n",
                             f"{DIST}/WHEEL": "Wheel-Version: 1.0\nGenerator: flit 3.11.0\n"},
                            dates=((2016, 1, 1, 0, 0, 0), (2025, 3, 5, 19, 51, 16))))
    facts = read_wheel(path)
    assert (facts.generator, facts.metadata_version, facts.windows) == ("flit 3.11.0", "2.4", False)
    assert facts.times == ((2016, 1, 1, 0, 0, 0), (2025, 3, 5, 19, 51, 16))


def test_a_wheel_zipped_on_windows_is_noticed(tmp_path):
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    path.write_bytes(_wheel({f"{DIST}/WHEEL": "Generator: bdist_wheel (0.42.0)\n"}, create_system=0))
    assert read_wheel(path).windows


def test_one_entry_time_sets_source_date_epoch_and_several_leave_it_unset():
    sde, rule = timestamp_rule(((2020, 2, 2, 0, 0, 0),))
    assert sde == "1580601600" and "2020-02-02T00:00:00Z" in rule
    assert timestamp_rule(((1980, 1, 1, 0, 0, 0),))[0] == "315532800"
    sde, rule = timestamp_rule(((2024, 12, 4, 17, 35, 6), (2024, 12, 4, 17, 35, 24)))
    assert sde is None and "2 different entry times" in rule and "mtimes kept" in rule


def _sdist(tmp_path, pyproject: str | None, zipped: bool = False):
    members = {"pkg-1.0/pkg/__init__.py": b""}
    if pyproject is not None:
        members["pkg-1.0/pyproject.toml"] = pyproject.encode()
        members["pkg-1.0/vendored/pyproject.toml"] = b"[build-system]\nbuild-backend = 'not.this'\n"
    path = tmp_path / ("pkg-1.0.zip" if zipped else "pkg-1.0.tar.gz")
    if zipped:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        path.write_bytes(buffer.getvalue())
    else:
        path.write_bytes(_tar(members))
    return path


@pytest.mark.parametrize("zipped", [False, True])
def test_read_build_system_reads_the_top_pyproject_from_the_archive(tmp_path, zipped):
    path = _sdist(tmp_path, '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n',
                  zipped)
    assert read_build_system(path) == BuildSystem(("flit_core >=3.2,<4",), "flit_core.buildapi", False)


def test_read_build_system_falls_back_as_pep_517_says(tmp_path):
    assert read_build_system(_sdist(tmp_path, None)) == BuildSystem(("setuptools>=40.8.0",), LEGACY_BACKEND, False)
    (tmp_path / "b").mkdir()
    intree = _sdist(tmp_path / "b", '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
    assert read_build_system(intree) == BuildSystem((), "backend", True)


def test_a_malformed_pyproject_is_not_inferred(tmp_path):
    with pytest.raises(NotInferred, match="cannot be read"):
        read_build_system(_sdist(tmp_path, "[build-system\n"))


def _facts(generator: str, times=((2025, 3, 5, 19, 51, 16),), windows=False) -> WheelFacts:
    return WheelFacts("pkg-1.0-py3-none-any.whl", generator, "2.1", times, windows)


FLIT = BuildSystem(("flit_core >=3.2,<4",), "flit_core.buildapi", False)
LEGACY = BuildSystem(("setuptools>=40.8.0",), LEGACY_BACKEND, False)


def test_infer_pins_the_backend_to_the_generator_and_keeps_the_sdists_requirements():
    inference = infer(_facts("flit 3.11.0"), FLIT)
    assert (inference.backend, inference.version, inference.pinned) == ("flit-core", "3.11.0", "flit-core==3.11.0")
    assert inference.requirements == ("flit_core >=3.2,<4", "flit-core==3.11.0")
    assert inference.source_date_epoch == "1741204276" and not inference.guessed


def test_a_bdist_wheel_generator_pins_wheel_and_guesses_an_older_setuptools():
    inference = infer(_facts("bdist_wheel (0.42.0)", windows=True), LEGACY)
    assert inference.requirements == ("setuptools>=40.8.0", "wheel==0.42.0", "setuptools<70.1")
    assert inference.guessed == ("setuptools<70.1",)
    assert any("Windows" in note for note in inference.notes)


@pytest.mark.parametrize("generator, system, reason", [
    ("", FLIT, "names no Generator"),
    ("bazel-wheelmaker 1.0", LEGACY, "unknown build backend"),
    ("meson", BuildSystem(("meson-python",), "mesonpy", False), "names no version"),
    ("hatchling 1.27.0", FLIT, "not the backend that made it"),
    ("setuptools (80.9.0)", BuildSystem(("setuptools", "not a requirement!"), "setuptools.build_meta", False),
     "not a valid requirement"),
])
def test_infer_refuses_with_the_reason(generator, system, reason):
    with pytest.raises(NotInferred, match=reason):
        infer(_facts(generator), system)


def test_an_in_tree_backend_may_wrap_any_family():
    wrapped = BuildSystem(("setuptools>=64",), "pep517_backend.hooks", True)
    inference = infer(_facts("setuptools (80.9.0)"), wrapped)
    assert inference.pinned == "setuptools==80.9.0"
    assert any("in-tree" in note for note in inference.notes)


def test_a_legacy_sdist_matches_a_setuptools_generator():
    assert infer(_facts("setuptools (75.6.0)"), LEGACY).requirements == ("setuptools>=40.8.0", "setuptools==75.6.0")


def test_a_huge_pyproject_is_refused_not_read(tmp_path):
    info = tarfile.TarInfo("pkg-1.0/pyproject.toml")
    info.size = (1 << 20) + 1
    path = tmp_path / "pkg-1.0.tar.gz"
    path.write_bytes(_tar({}, [info]))
    with pytest.raises(NotInferred, match="over 1048576 bytes"):
        read_build_system(path)


def test_parenthesised_requires_dist_means_an_older_wheel_beside_setuptools(tmp_path):
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    path.write_bytes(_wheel({f"{DIST}/METADATA": "Metadata-Version: 2.1\nName: pkg\nRequires-Dist: botocore[crt] "
                                                 "(<2.0a.0,>=1.37.4) ; extra == 'crt'\n\nRequires-Dist: x (1)\n",
                             f"{DIST}/WHEEL": "Generator: setuptools (75.1.0)\n"}))
    facts = read_wheel(path)
    assert facts.parenthesised
    inference = infer(facts, LEGACY)
    assert inference.guessed == ("wheel<0.41",) and inference.requirements[-1] == "wheel<0.41"
    assert any("wheel < 0.41" in note for note in inference.notes)
    path.write_bytes(_wheel({f"{DIST}/METADATA": "Metadata-Version: 2.1\nRequires-Dist: x>=1\n\nRequires-Dist: x (1)\n",
                             f"{DIST}/WHEEL": "Generator: setuptools (75.1.0)\n"}))
    facts = read_wheel(path)
    assert not facts.parenthesised, "the description below the headers does not count"
    assert infer(facts, LEGACY).guessed == ()


def test_a_python_tag_the_backend_would_not_choose_is_asked_of_bdist_wheel():
    facts = dataclasses.replace(_facts("bdist_wheel (0.42.0)"), filename="pytz-1.0-py2.py3-none-any.whl")
    inference = infer(facts, LEGACY, rebuilt="pytz-1.0-py3-none-any.whl")
    assert inference.config_settings == ("--build-option=--python-tag=py2.py3",)
    assert infer(facts, LEGACY, rebuilt="pytz-1.0-py2.py3-none-any.whl").config_settings == ()
    assert infer(dataclasses.replace(facts, generator="flit 3.11.0"), FLIT,
                 rebuilt="pytz-1.0-py3-none-any.whl").config_settings == (), "only bdist_wheel takes the option"
