"""The upstream command: compare a release's rebuilt wheel with the one the index publishes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from ..engine.check import Checker
from ..engine.interpreters import Interpreter, discover, parse_wanted
from ..engine.resolve import resolve_release
from ..errors import PipelineError, UsageError
from ..records import Release
from ..upstream import check_upstream
from .check import json_destination
from .options import Parser, add_build_options, add_out, check_options, python_version
from .report import difference_lines
from .text import printable


def _parser() -> Parser:
    parser = Parser("upstream", "Compare a release's rebuilt wheel with the one the index publishes "
                                "(exit 0: identical or equivalent, 1: different, 2: no verdict).")
    parser.add_argument("target", metavar="PKG[==VER]")
    parser.add_argument("--python", type=python_version, metavar="X.Y",
                        help="interpreter of the rebuild (default: the one running this)")
    add_out(parser)
    parser.add_argument("--rebuild", action="store_true", help="build anew even when a kept wheel exists")
    parser.add_argument("--json", type=json_destination, metavar="FILE", help="write the upstream record as JSON")
    add_build_options(parser)  # for the build, when one is needed
    return parser


def latest_kept_wheel(folder: Path) -> Path | None:
    """The newest wheel a controlled build kept in ``folder`` (out/builds/NAME/VERSION/TAG/1/)."""
    wheels = [p for p in folder.glob("*.whl") if p.is_file()] if folder.is_dir() else []
    return max(wheels, key=lambda p: (p.stat().st_mtime, p.name)) if wheels else None


def rebuilt_wheel(checker: Checker, release: Release, interpreter: Interpreter, rebuild: bool) -> tuple[Path, str]:
    """A kept controlled-build wheel of the release, or one made now; (wheel, where it came from)."""
    kept = checker.workspace.result_dir(release.name, release.version, interpreter.tag) / "1"
    found = None if rebuild else latest_kept_wheel(kept)
    if found is not None:
        return found, "kept from an earlier build"
    return Path(checker.rebuild_release(release, interpreter).path), "built now: one controlled build"


def main_upstream(argv: Sequence[str]) -> int:
    """Exit 0: the index's wheel is verified (identical or equivalent); 1: different; 2: no verdict."""
    args = _parser().parse_args(list(argv))
    minor = args.python or f"{sys.version_info.major}.{sys.version_info.minor}"
    if minor.count(".") == 2:
        raise UsageError(f"upstream takes an X.Y version (--python {minor.rsplit('.', 1)[0]}), got {minor}")
    found = discover(parse_wanted([minor])).found
    if not found:
        raise PipelineError(f"Python {minor} not found; pass --python X.Y")
    interpreter = found[0]
    checker = Checker(check_options(args, args.out))
    release = resolve_release(checker.client, args.index_url, args.target)
    wheel, origin = rebuilt_wheel(checker, release, interpreter, args.rebuild)
    upstream = check_upstream(checker.client, release, wheel, checker.workspace.wheels_cache, checker.workspace.scratch)
    lines = [f"{release.name} {release.version} [{interpreter.tag}] rebuild: {wheel.name} ({origin})",
             f"  {wheel}", f"vs the index's wheel: {upstream.status}: {upstream.note}"]
    if upstream.wheel:
        lines.append(f"  {upstream.wheel}  sha256 {upstream.sha256}")
    if upstream.passes:
        lines.append(f"  normalisation passes that changed something: {', '.join(upstream.passes)}")
    out = sys.stderr if args.json == "-" else sys.stdout
    print("\n".join(printable(line) for line in lines), file=out)
    for line in difference_lines(upstream.differences, 12, indent="  "):
        print(line, file=out)
    if args.json == "-":
        print(json.dumps(upstream.to_json(), indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(upstream.to_json(), indent=2) + "\n")
    if upstream.status in ("identical", "equivalent"):
        return 0
    return 1 if upstream.status == "different" else 2

