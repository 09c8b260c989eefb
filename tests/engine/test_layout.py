"""The interpreter at a constant prefix: what is rewritten, what is bound, what the fingerprint sees."""

from __future__ import annotations

from pathlib import Path

from pipeline.engine import layout


def test_builds_happen_at_one_path_per_release_and_interpreter():
    assert layout.build_dir("six", "1.17.0", "cp312") == Path("/tmp/wheelrepro/cp312/six-1.17.0")
    assert layout.python_prefix("cp39") == "/opt/python/cp39"


def test_the_view_names_only_the_constant_prefix(interpreters, tmp_path):
    interpreter = next(iter(interpreters.values()))
    view = layout.python_view(interpreter, tmp_path)
    assert view.prefix == f"/opt/python/{interpreter.tag}" and view.executable.startswith(view.prefix + "/bin/python")
    assert Path(view.host_prefix, view.executable[len(view.prefix) + 1:]).exists()
    sysconfigdata = [o for o in view.overlays if "_sysconfigdata" in o.inside and o.inside.endswith(".py")]
    assert len(sysconfigdata) == 1 and sysconfigdata[0].inside.startswith(view.prefix + "/lib/")
    compiled = [o for o in view.overlays if "_sysconfigdata" in o.inside and o.inside.endswith(".pyc")]
    assert len(compiled) == 1 and "/__pycache__/" in compiled[0].inside, "its bytecode is shown too"
    text = Path(sysconfigdata[0].host).read_text()
    assert view.host_prefix not in text and view.prefix in text
    assert all(view.host_prefix not in value for key, value in view.identity.items() if key.startswith("sysconfig_"))
    assert len(view.identity["python_executable_sha256"]) == 64 and view.identity["python"] == interpreter.version


def test_the_rewritten_files_are_made_once(interpreters, tmp_path):
    interpreter = next(iter(interpreters.values()))
    first = layout.python_view(interpreter, tmp_path)
    stamp = Path(first.overlays[0].host).stat().st_mtime_ns
    second = layout.python_view(interpreter, tmp_path)
    assert second == first and Path(second.overlays[0].host).stat().st_mtime_ns == stamp
