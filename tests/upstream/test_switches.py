"""The switch for a build without extensions, read off an sdist's build files (nothing run)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import NotInferred
from pipeline.upstream.switches import MAX_FILE, choose_value, env_sense, find_switches
from tests.sdists import _tar

TOP = "pkg-1.0"
SETUPTOOLS = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
INTREE = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "pep517_backend.hooks"\nbackend-path = ["packaging"]\n'


def sdist(tmp_path: Path, files: dict[str, str], name: str = "pkg-1.0.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(_tar({f"{TOP}/{k}": v.encode() for k, v in files.items()}))
    return path


@pytest.mark.parametrize("name, sense", [
    ("AIOHTTP_NO_EXTENSIONS", "off"), ("DISABLE_SQLALCHEMY_CEXT", "off"), ("FROZENLIST_NO_EXTENSIONS", "off"),
    ("MSGPACK_PUREPYTHON", "off"), ("PKG_PURE_PYTHON", "off"), ("PKG_WITHOUT_C_EXT", "off"), ("PKG_NO_CYTHON", "off"),
    ("BUILD_EXTENSION", "on"), ("WRAPT_INSTALL_EXTENSIONS", "on"), ("WRAPT_EXTENSIONS", "on"),
    ("REQUIRE_SQLALCHEMY_CEXT", "on"), ("PKG_SPEEDUPS", "on"),
    ("AIOHTTP_CYTHON_TRACE", None), ("MULTIDICT_NO_FREELIST", None), ("AIOHTTP_USE_SYSTEM_DEPS", None),
    ("SOURCE_DATE_EPOCH", None), ("PKG_EXTERNAL_LIB", None),
])
def test_a_variables_name_says_whether_setting_it_leaves_extensions_out(name, sense):
    assert env_sense(name) == sense


@pytest.mark.parametrize("sense, literals, value", [
    ("off", [], "1"), ("off", ["0"], "1"), ("off", ["true", "1"], "true"), ("off", ["Windows"], "1"),
    ("on", ["false", "true"], "false"), ("on", ["no"], "no"), ("on", ["yes"], None), ("on", [], None),
])
def test_the_value_is_one_the_build_files_compare_with(sense, literals, value):
    assert choose_value(sense, literals) == value


SETUP_PY = {
    "truthy": ('import os\nfrom setuptools import setup\n\nNO_EXT = bool(os.environ.get("PKG_NO_EXTENSIONS"))\n',
               "env", "PKG_NO_EXTENSIONS=1", 4),
    "compared with no": ('import os\nif os.environ.get("BUILD_EXTENSION") == "no":\n    ext = []\n'
                         'optional = os.environ.get("BUILD_EXTENSION") != "yes"\n', "env", "BUILD_EXTENSION=no", 2),
    "through a variable": ('import os\nflag = os.environ.get("PKG_INSTALL_EXTENSIONS")\nif flag is not None:\n'
                           '    off = flag.lower() == "false"\n', "env", "PKG_INSTALL_EXTENSIONS=false", 2),
    "getenv compared with true": ('import os\nPURE = os.getenv("PKG_PURE_PYTHON", "0") == "true"\n',
                                  "env", "PKG_PURE_PYTHON=true", 2),
    "subscript": ('import os\nif "DISABLE_PKG_CEXT" in os.environ:\n    pass\nx = os.environ["DISABLE_PKG_CEXT"]\n',
                  "env", "DISABLE_PKG_CEXT=1", 2),
    "python 2": ('import os\nprint "building"\nif os.environ.get("PKG_NO_EXTENSIONS"): pass\n',
                 "env", "PKG_NO_EXTENSIONS=1", 3),
}


@pytest.mark.parametrize("case", list(SETUP_PY))
def test_a_switch_in_setup_py_is_found_with_its_value_and_line(case, tmp_path):
    text, kind, setting, line = SETUP_PY[case]
    scan = find_switches(sdist(tmp_path, {"pyproject.toml": SETUPTOOLS, "setup.py": text}))
    assert [(s.kind, s.setting, s.file, s.line) for s in scan.switches] == [(kind, setting, "setup.py", line)]
    assert scan.env_vars == (setting,) and scan.config_settings == ()
    assert f"setup.py line {line}" in scan.notes()[0] and scan.files == ("pyproject.toml", "setup.py")


def test_a_switch_that_only_turns_extensions_on_is_listed_as_unused(tmp_path):
    text = ('import os\nREQUIRE = bool(os.environ.get("REQUIRE_PKG_CEXT"))\n'
            'DISABLE = bool(os.environ.get("DISABLE_PKG_CEXT"))\n')
    scan = find_switches(sdist(tmp_path, {"setup.py": text}))
    assert scan.env_vars == ("DISABLE_PKG_CEXT=1",)
    assert [(s.name, s.line) for s in scan.unused] == [("REQUIRE_PKG_CEXT", 2)]
    assert "read but not used (no value of it turns the extensions off): REQUIRE_PKG_CEXT (setup.py line 2)" \
        in scan.notes()


BACKEND = '''import os

PURE_PYTHON_CONFIG_SETTING = 'pure-python'
PURE_PYTHON_ENV_VAR = 'PKG_NO_EXTENSIONS'


def _pure(config_settings=None):
    for source, key in ((config_settings or {}, PURE_PYTHON_CONFIG_SETTING), (os.environ, PURE_PYTHON_ENV_VAR)):
        if key in source:
            return source[key].lower() in {'', 'true', '1', 'on'}
    return False
'''


def test_an_in_tree_backend_under_backend_path_is_read_for_config_settings_and_variables(tmp_path):
    scan = find_switches(sdist(tmp_path, {"pyproject.toml": INTREE, "packaging/pep517_backend/_backend.py": BACKEND,
                                          "packaging/pep517_backend/hooks.py": "from ._backend import *\n",
                                          "tools/other.py": "X = 'OTHER_NO_EXTENSIONS'\n"}))
    assert [(s.kind, s.setting, s.file, s.line) for s in scan.switches] == [
        ("config", "pure-python=true", "packaging/pep517_backend/_backend.py", 3),
        ("env", "PKG_NO_EXTENSIONS=1", "packaging/pep517_backend/_backend.py", 4)]
    assert scan.config_settings == ("pure-python=true",) and scan.env_vars == ("PKG_NO_EXTENSIONS=1",)
    assert "tools/other.py" not in scan.files, "only the build files and the backend are read"


def test_a_config_key_outside_an_in_tree_backend_is_not_a_switch(tmp_path):
    text = "def build(config_settings):\n    return config_settings.get('pure-python')\n"
    scan = find_switches(sdist(tmp_path, {"pyproject.toml": SETUPTOOLS, "setup.py": text}))
    assert scan.switches == ()


def test_pyproject_and_setup_cfg_count_only_values_that_turn_extensions_off(tmp_path):
    toml = SETUPTOOLS + '\n[tool.cibuildwheel]\nenvironment = { BUILD_EXTENSION = "yes", PKG_NO_EXTENSIONS = "1" }\n'
    scan = find_switches(sdist(tmp_path, {"pyproject.toml": toml, "setup.cfg": "[testenv]\nsetenv = PKG_NO_CEXT=0\n"}))
    assert [(s.setting, s.file, s.line) for s in scan.switches] == [("PKG_NO_EXTENSIONS=1", "pyproject.toml", 6)]


def test_no_switch_says_which_files_were_read(tmp_path):
    text = ('import os\nimport build_helpers\nfrom setuptools import Extension, setup\n'
            'TRACE = os.environ.get("PKG_CYTHON_TRACE")\nsetup(ext_modules=[Extension("pkg._c", ["c.c"])])\n')
    scan = find_switches(sdist(tmp_path, {"pyproject.toml": SETUPTOOLS, "setup.py": text, "build_helpers.py": "",
                                          "noxfile.py": 'os.environ["SKIP_CEXT_TESTS"] = "1"\n'}))
    assert (scan.switches, scan.unused, scan.notes()) == ((), (), ())
    assert scan.searched() == "pyproject.toml, setup.py, build_helpers.py", "a noxfile is not a build file"


def test_a_module_setup_py_imports_is_read(tmp_path):
    helper = 'import os\n\n\ndef wanted():\n    return not os.environ.get("PKG_NO_EXTENSIONS")\n'
    scan = find_switches(sdist(tmp_path, {"setup.py": "from _build_helpers import wanted\n",
                                          "_build_helpers.py": helper}))
    assert [(s.setting, s.file, s.line) for s in scan.switches] == [("PKG_NO_EXTENSIONS=1", "_build_helpers.py", 5)]


def test_a_zip_sdist_is_read_too(tmp_path):
    path = tmp_path / "pkg-1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{TOP}/setup.py", 'import os\nos.environ.get("PKG_NO_EXTENSIONS")\n')
    assert find_switches(path).env_vars == ("PKG_NO_EXTENSIONS=1",)


def test_what_a_hostile_archive_holds_beyond_the_caps_or_outside_its_folder_is_not_read(tmp_path):
    big = 'import os\nos.environ.get("BIG_NO_EXTENSIONS")\n' + "#" * MAX_FILE
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in ((f"{TOP}/setup.py", big), (f"{TOP}/../evil.py", 'E = "EVIL_NO_EXTENSIONS"\n'),
                           ("setup.py", 'E = "TOP_NO_EXTENSIONS"\n')):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text.encode()))
        link = tarfile.TarInfo(f"{TOP}/pyproject.toml")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    path = tmp_path / "hostile-1.0.tar.gz"
    path.write_bytes(buffer.getvalue())
    scan = find_switches(path)
    assert (scan.switches, scan.files) == ((), ())


def test_an_unreadable_sdist_is_not_inferred(tmp_path):
    path = tmp_path / "pkg-1.0.tar.gz"
    path.write_bytes(b"not an archive")
    with pytest.raises(NotInferred, match="the sdist cannot be read"):
        find_switches(path)
