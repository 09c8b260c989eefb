"""The switch an sdist's own build files read to build without C extensions, found by reading them.

Some projects publish a pure wheel beside their compiled ones, made from the same sdist with a
switch of their own: an environment variable (``*_NO_EXTENSIONS``, ``DISABLE_*_CEXT``,
``*_INSTALL_EXTENSIONS=false``, ``BUILD_EXTENSION=no``) or a PEP 517 config setting that an in-tree
backend reads (``pure-python``).  No wheel records it.  :func:`find_switches` reads the sdist's
build files straight from the archive (``setup.py``, ``setup.cfg``, ``pyproject.toml``, the other
top-level ``*.py`` files, and the in-tree backend under ``backend-path``), parses the Python ones
(``ast``: nothing is run), and returns each switch that says "no extensions" with the value that
says it and where it was read (file, line).  The patterns are generic; no project is named here.
"""

from __future__ import annotations

import ast
import re
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

from ..errors import NotInferred

#: what is read of a hostile archive: members looked at, bytes per file, files, bytes in all
MAX_MEMBERS = 200_000
MAX_FILE = 1 << 20
MAX_FILES = 64
MAX_TOTAL = 8 << 20
#: how deep under a backend-path folder a backend module is looked for
MAX_DEPTH = 4
TOP_FILES = ("setup.py", "setup.cfg", "pyproject.toml")
EVIDENCE_CHARS = 160

#: words of an environment variable's name, split at "_"
EXTENSION_WORDS = frozenset({"EXT", "EXTS", "EXTENSION", "EXTENSIONS", "CEXT", "CEXTS", "CEXTENSION", "CEXTENSIONS",
                             "SPEEDUP", "SPEEDUPS", "ACCELERATOR", "ACCELERATORS"})
NEGATION_WORDS = frozenset({"NO", "DISABLE", "DISABLED", "WITHOUT", "SKIP", "NOEXT", "NOEXTENSIONS"})
#: literal values a switch is compared with: those that say yes, those that say no
YES = ("1", "true", "yes", "on", "y", "t", "enable", "enabled")
NO = ("0", "false", "no", "off", "n", "f", "disable", "disabled")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,63}")
#: config-settings keys an in-tree backend reads for a pure build (``pure-python``, ``--no-extensions``)
_CONFIG_KEY = re.compile(r"-{0,2}(?:pure[-_]?python|(?:no|without|disable)[-_](?:c[-_]?)?ext(?:ension)?s?)")
#: ``NAME=value`` / ``NAME = "value"`` in a TOML or INI file
_ASSIGNED = re.compile(r"\b([A-Z][A-Z0-9_]{2,63})\s*[=:]\s*[\"']?([A-Za-z0-9]+)")
_READERS = ("get", "getenv", "pop")  # os.environ.get(...), os.getenv(...), environ.pop(...)


@dataclass(frozen=True)
class Switch:
    """One way to ask this sdist for a build without extensions, and where it was read."""

    kind: Literal["env", "config"]
    name: str  # AIOHTTP_NO_EXTENSIONS, pure-python
    value: str  # 1, false, no, true
    file: str  # inside the sdist, below its top folder
    line: int
    text: str  # the line as read (capped, control characters dropped)

    @property
    def setting(self) -> str:
        return f"{self.name}={self.value}"

    def describe(self) -> str:
        what = "environment variable" if self.kind == "env" else "config setting"
        return f"{what} {self.setting} ({self.file} line {self.line}: {self.text})"


@dataclass(frozen=True)
class Scan:
    """What the build files say: the switches chosen, the files read, names read that turn nothing off."""

    switches: tuple[Switch, ...]
    files: tuple[str, ...]
    unused: tuple[Switch, ...] = ()  # e.g. REQUIRE_X_CEXT, read only as a truth value: it cannot turn them off

    @property
    def env_vars(self) -> tuple[str, ...]:
        return tuple(s.setting for s in self.switches if s.kind == "env")

    @property
    def config_settings(self) -> tuple[str, ...]:
        return tuple(s.setting for s in self.switches if s.kind == "config")

    def notes(self) -> tuple[str, ...]:
        chosen = [f"asked for a build without extensions with the sdist's own switch: {s.describe()}"
                  for s in self.switches]
        return tuple(chosen + [f"read but not used (no value of it turns the extensions off): {s.name} "
                               f"({s.file} line {s.line})" for s in self.unused])

    def described(self) -> str:
        """``AIOHTTP_NO_EXTENSIONS=1 read in setup.py line 15``, for each switch."""
        return "; ".join(f"{s.setting if s.kind == 'env' else '-C' + s.setting} read in {s.file} line {s.line}"
                         for s in self.switches)

    def searched(self) -> str:
        return ", ".join(self.files) if self.files else "no build file"


def env_sense(name: str) -> Literal["off", "on"] | None:
    """``off`` when a set variable of this name turns extensions off (AIOHTTP_NO_EXTENSIONS,
    DISABLE_X_CEXT, X_PURE_PYTHON), ``on`` when it is about building them (BUILD_EXTENSION,
    X_INSTALL_EXTENSIONS: only a "no" value turns them off), None when it is about neither."""
    words = name.upper().split("_")
    if "PUREPYTHON" in words or any(a == "PURE" and b == "PYTHON" for a, b in zip(words, words[1:])):
        return "off"
    about = any(w in EXTENSION_WORDS for w in words) or any(a == "C" and b in EXTENSION_WORDS
                                                              for a, b in zip(words, words[1:]))
    if not about and not (("CYTHON" in words or "COMPILE" in words) and NEGATION_WORDS & set(words)):
        return None
    return "off" if NEGATION_WORDS & set(words) else "on"


def choose_value(sense: str, literals: Iterable[str], kind: str = "env") -> str | None:
    """The value that turns the extensions off, from the literals the build files compare the switch
    with; None when an ``on`` switch is never compared with a "no"."""
    seen = [lit for lit in literals if lit.strip().lower() in YES + NO]
    if sense == "on":
        return next((lit for lit in seen if lit.strip().lower() in NO), None)
    # "off": a truth value; a compared "yes" word is the one to give (== "true"), else 1 / true
    return next((lit for lit in seen if lit.strip().lower() in YES), "1" if kind == "env" else "true")


def _clean(text: str) -> str:
    text = "".join(c if c.isprintable() else " " for c in text.strip())
    return text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS - 3] + "..."


# -- reading the archive --------------------------------------------------------------------------

def _relative(name: str) -> str | None:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if len(parts) < 2 or ".." in parts or name.startswith("/"):
        return None
    return "/".join(parts[1:])


def read_files(sdist: Path, wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The sdist's files (below its top folder) that ``wanted`` names, read from the archive, capped."""
    found: dict[str, bytes] = {}
    total = 0

    def take(relative: str | None, size: int, read: Callable[[], bytes]) -> bool:
        nonlocal total
        if relative is None or relative in found or not wanted(relative) or size > MAX_FILE:
            return True
        if len(found) >= MAX_FILES or total + size > MAX_TOTAL:
            return False
        found[relative] = read()[:MAX_FILE]
        total += len(found[relative])
        return True

    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                for count, info in enumerate(archive.infolist()):
                    if count >= MAX_MEMBERS or (not info.is_dir() and not take(
                            _relative(info.filename), info.file_size, lambda: archive.read(info))):
                        break
            return found
        with tarfile.open(sdist) as archive:
            for count, member in enumerate(archive):
                if count >= MAX_MEMBERS:
                    break
                if member.isfile() and not take(_relative(member.name), member.size,
                                                lambda: archive.extractfile(member).read(MAX_FILE)):
                    break
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise NotInferred(f"the sdist cannot be read ({error})") from None
    return found


def backend_paths(pyproject: bytes | None) -> tuple[str, ...]:
    """``[build-system] backend-path`` folders, relative and inside the sdist ("" for its top folder)."""
    try:
        system = tomllib.loads(pyproject.decode("utf-8")).get("build-system") if pyproject else None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return ()
    paths = system.get("backend-path") if isinstance(system, dict) else None
    if not isinstance(paths, list):
        return ()
    found = []
    for path in paths:
        if isinstance(path, str) and not path.startswith("/") and ".." not in path.split("/"):
            found.append("/".join(p for p in path.split("/") if p not in ("", ".")))
    return tuple(found)


def _top_build_file(relative: str) -> bool:
    return relative in TOP_FILES or ("/" not in relative and relative.endswith(".py"))


def imported(source: bytes | None) -> set[str]:
    """The top-level names a Python file imports absolutely (``import a.b``, ``from a import b``: a)."""
    try:
        tree = ast.parse(source) if source else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def _under(folders: tuple[str, ...]) -> Callable[[str], bool]:
    def wanted(relative: str) -> bool:
        for folder in folders:
            inside = relative[len(folder) + 1:] if folder else relative
            if (not folder or relative.startswith(folder + "/")) and inside.endswith(".py") \
                    and inside.count("/") < (MAX_DEPTH if folder else 1):
                return True
        return False

    return wanted


# -- reading the files ----------------------------------------------------------------------------

def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_read(node: ast.AST, parent: ast.AST | None) -> ast.AST | None:
    """The expression reading the environment when ``node`` (a name) is its key, else None."""
    if isinstance(parent, ast.Call) and node in parent.args[:1]:
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return parent if name in _READERS else None
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return parent
    return None


class _Python:
    """One parsed Python build file: where each candidate name is read, and the literals it meets."""

    def __init__(self, tree: ast.AST) -> None:
        self.parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        self.compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]

    def _compared_with(self, names: set[str]) -> list[str]:
        literals = []
        for compare in self.compares:
            if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(compare)):
                literals += _strings(compare)
        return literals

    def literals(self, constant: ast.Constant) -> list[str]:
        """The string literals the value read under ``constant``'s name is compared with: in the same
        expression (``== "no"``), or through the variable it is assigned to (``v.lower() == "false"``)."""
        found, node, read = [], constant, None
        while node in self.parent and not isinstance(node, ast.stmt):
            parent = self.parent[node]
            read = read or _is_read(node, parent)
            if isinstance(parent, ast.Compare):
                found += _strings(parent)
            node = parent
        if read is not None and isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += self._compared_with({t.id for t in targets if isinstance(t, ast.Name)})
        return [lit for lit in found if lit != constant.value]


def _python_switches(relative: str, text: str, lines: list[str], config: bool) -> list[tuple[Switch, bool]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _text_switches(relative, lines, python=True)
    python, found = _Python(tree), []
    reads_config = "config_settings" in text
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        where = lines[node.lineno - 1] if 0 < node.lineno <= len(lines) else ""
        if _ENV_NAME.fullmatch(node.value) and (sense := env_sense(node.value)):
            value = choose_value(sense, python.literals(node))
            found.append((Switch("env", node.value, value or "", relative, node.lineno, _clean(where)), value is not None))
        elif config and reads_config and _CONFIG_KEY.fullmatch(node.value):
            value = choose_value("off", python.literals(node), kind="config")
            found.append((Switch("config", node.value, value or "true", relative, node.lineno, _clean(where)), True))
    return found


def _text_switches(relative: str, lines: list[str], python: bool = False) -> list[tuple[Switch, bool]]:
    """A TOML or INI file (``NAME=value`` that turns them off), or Python that does not parse (a name
    that turns them off when set)."""
    found = []
    for number, line in enumerate(lines, 1):
        for match in _ASSIGNED.finditer(line):
            sense = env_sense(match.group(1))
            value = choose_value(sense, [match.group(2)]) if sense else None
            if sense and value and value.lower() == match.group(2).lower():
                found.append((Switch("env", match.group(1), value, relative, number, _clean(line)), True))
        if python:
            for name in set(_ENV_NAME.findall(line)):
                if env_sense(name) == "off":
                    found.append((Switch("env", name, "1", relative, number, _clean(line)), True))
    return found


def find_switches(sdist: Path) -> Scan:
    """Every switch the sdist's build files read that turns its extensions off (one per name, the
    first place it is read), and the files that were read; NotInferred when the sdist cannot be read."""
    files = read_files(sdist, _top_build_file)
    helpers = imported(files.get("setup.py"))  # a noxfile or conftest beside it is not a build file
    files = {r: data for r, data in files.items() if r in TOP_FILES or r.removesuffix(".py") in helpers}
    backend = backend_paths(files.get("pyproject.toml"))
    if backend:
        files.update(read_files(sdist, _under(backend)))
    in_backend = _under(backend) if backend else (lambda relative: False)
    chosen: dict[tuple[str, str], Switch] = {}
    unused: dict[tuple[str, str], Switch] = {}
    for relative in sorted(files, key=lambda r: (r not in TOP_FILES, r)):
        text = files[relative].decode("utf-8", "replace")
        lines = text.splitlines()
        found = _python_switches(relative, text, lines, in_backend(relative)) if relative.endswith(".py") \
            else _text_switches(relative, lines)
        for switch, works in sorted(found, key=lambda pair: pair[0].line):
            key = (switch.kind, switch.name)
            if works and key not in chosen:
                chosen[key] = switch
            elif not works:
                unused.setdefault(key, switch)
    return Scan(tuple(chosen.values()), tuple(sorted(files, key=lambda r: (r not in TOP_FILES, r))),
                tuple(s for k, s in unused.items() if k not in chosen))
