"""``history`` and ``publish``: the results history on its data branch, and a night's last step."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from ..engine.net import Retry
from ..errors import UsageError
from ..nightly.history import DEFAULT_BRANCH, TOKEN_VARIABLE
from ..nightly.publish import HistoryOptions, fold_history, publish_night
from .render import add_repository, site_renderer


def _history_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--remote", required=True,
        help="the git repository holding the history: a URL or a local path"
             f" (an https URL gets the token in ${TOKEN_VARIABLE}, if set)")
    add("--branch", default=DEFAULT_BRANCH, help=f"the data branch (default: {DEFAULT_BRANCH})")
    add("--first-run", action="store_true",
        help="the branch may not exist yet: start the history from nothing (never needed again)")
    add("--out", type=Path, default=Path("out"), help="the results store (a cache of the history)")
    add("--clone", type=Path, help="the disposable clone of the branch (default: OUT/history)")
    add("--attempts", type=int, default=3, help="tries at the remote before failing (default: 3)")
    add("--wait", action="store_true", help="wait for another run on the same out/ instead of refusing")


def _options(args: argparse.Namespace) -> HistoryOptions:
    if args.attempts < 1:
        raise UsageError(f"--attempts must be at least 1, got {args.attempts}")
    # The token reaches git alone: out of this process's environment, so nothing started later
    # (the renderer's workers) inherits it.
    token = os.environ.pop(TOKEN_VARIABLE, None) or None
    return HistoryOptions(
        remote=args.remote,
        branch=args.branch,
        out_dir=args.out,
        first_run=args.first_run,
        wait=args.wait,
        retry=Retry(attempts=args.attempts, backoff=2.0),
        token=token,
        clone_dir=args.clone,
    )


def main_history(argv: Sequence[str]) -> int:
    """`nox -s history -- --remote URL`: fold the whole history into out/ (a shard's first step,
    and how a lost out/ is rebuilt)."""
    parser = argparse.ArgumentParser(prog="history", description="Fold the results history into the store.")
    _history_options(parser)
    folded = fold_history(_options(parser.parse_args(list(argv))))
    for line in folded.lines():
        print(line)
    return 0


def main_publish(argv: Sequence[str]) -> int:
    """`nox -s publish -- SHARD-RESULTS... --remote URL`: the workflow's publish job, anywhere."""
    parser = argparse.ArgumentParser(
        prog="publish",
        description="Fold the history, merge result files, append them to the history, push, render the site.",
    )
    parser.add_argument("files", nargs="*", type=Path, help="result files, or folders holding them (shard artifacts)")
    _history_options(parser)
    parser.add_argument("--no-push", action="store_true", help="commit to the local clone only")
    parser.add_argument("--no-render", action="store_true", help="do not render the site")
    parser.add_argument("--site", type=Path, help="the site folder (default: OUT/site)")
    add_repository(parser)
    args = parser.parse_args(list(argv))
    missing = [str(path) for path in args.files if not path.exists()]
    if missing:
        raise UsageError(f"no such result file or folder: {', '.join(missing)}")
    options = _options(args)
    render = None if args.no_render else site_renderer(options.out_dir, args.repository)
    published = publish_night(options, args.files, push=not args.no_push, render=render, site_dir=args.site)
    for line in published.lines():
        print(line)
    return 0
