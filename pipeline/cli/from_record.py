"""``check --from-record FILE|URL|DIR``: rebuild what a record says; say ``verified`` or what differs.

Records come from a file, a URL or a results folder's store.  Each record chosen (positional
NAME[==VERSION] and ``--python X.Y[.Z]`` narrow a source of several; for each project, version and
interpreter the newest verdict is taken) is rebuilt with its exact interpreter, toolchain and build
locks, sdist and controls (pipeline.engine.rederive).  One line each: ``verified`` naming the
sha256, ``differs`` with the member diff, or why it is unavailable or refused.  Exit 0 when every
one is verified, 1 when one differs, 2 when one is unavailable or refused (nothing was built for
it).  The rebuilds are not added to the results store: they are about the record, not a new check
of the release.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Sequence

from ..engine.check import Checker, CheckOptions
from ..engine.net import Client
from ..engine.outcome import rederive_command
from ..engine.rederive import is_remote, plan, read_records, rebuild, refused, select
from ..engine.resolve import parse_requirement
from ..engine.workspace import Workspace
from ..errors import RebuildUnavailable, RecordRefused, UsageError
from ..nightly.store import Store
from ..records import PYPI_SIMPLE, Result
from . import report
from .jobs import Runner
from .options import check_options, flatten
from .progress import LiveProgress
from .text import QUIET, Console, printable, save_traceback

#: options of ``check`` that ask for something a rebuild from a record does not do
NOT_WITH_RECORD = (("requirements", "-r"), ("wheelhouse", "--wheelhouse"), ("vary", "--vary"),
                   ("require_upstream", "--require-upstream"), ("include_unreproducible", "--include-unreproducible"))


def exit_code(results: Sequence[Result]) -> int:
    """0: every record verified; 1: some rebuild differs; 2: some record refused or unavailable."""
    statuses = {r.verification.status if r.verification else "refused" for r in results}
    if "differs" in statuses:
        return 1
    return 0 if statuses == {"verified"} else 2


def main_from_record(args: argparse.Namespace, index_given: bool, console: Console) -> int:
    for attribute, flag in NOT_WITH_RECORD:
        if getattr(args, attribute):
            raise UsageError(f"--from-record rebuilds what the record says; {flag} does not go with it")
    source = args.from_record
    workspace = Workspace(args.out.resolve())
    if Path(source).is_dir():  # a results folder: every attempt its store holds
        with Store.open(Path(source)) as store:
            records = store.all_results()
        if not records:
            raise UsageError(f"{source}: its results store holds no records")
    else:
        records = read_records(source, Client(workspace.http_cache))
    wanted = []
    for want in args.targets:  # with --from-record, they pick records
        name, version = parse_requirement(want)
        wanted.append(f"{name}=={version}" if version else name)
    pythons = flatten(args.python)
    chosen = select(records, wanted, [p for p in pythons if p != "all"])
    if not chosen:
        held = sorted({f"{r.name}=={r.version} on {r.python}" for r in records})
        raise UsageError(f"{source}: no record matches; it holds {', '.join(held[:10])}"
                         + (f" and {len(held) - 10} more" if len(held) > 10 else ""))
    progress = LiveProgress(console) if args.verbosity > QUIET else None
    checkers: dict[str, Checker] = {}
    made = threading.Lock()

    def checker_for(options: CheckOptions) -> Checker:
        with made:
            if options.index_url not in checkers:
                checkers[options.index_url] = Checker(options, progress=progress or (lambda event: None))
            return checkers[options.index_url]

    def work(record: Result) -> Result:
        index_url = args.index_url if index_given else (record.index_url or PYPI_SIMPLE)
        options = check_options(argparse.Namespace(**{**vars(args), "index_url": index_url}), args.out,
                                upstream=False)
        again = rederive_command(source, record.name, record.version, record.python, options, index=index_given)
        try:
            planned = plan(record, is_remote(source))  # before anything uses what the record names
        except (RecordRefused, RebuildUnavailable) as error:
            return refused(record, source, error, again)
        return rebuild(checker_for(options), planned, source, again)

    def failed(record: Result, error: Exception) -> Result:  # a tracker bug: never a verdict
        reason = f"tracker error: {type(error).__name__}: {error} (traceback: {save_traceback(error)})"
        return refused(record, source, RebuildUnavailable(reason), "")

    def done(record: Result, result: Result) -> None:
        for line in verdict_lines(result):
            (console.problem if result.verification.status in ("unavailable", "refused") else console.report)(line)

    try:
        results = Runner(work, failed, done, args.jobs).run(chosen)
    finally:
        if progress:
            progress.close()
    payload = [r.to_json() for r in results]
    if args.json == "-":
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return exit_code(results)


def verdict_lines(result: Result) -> list[str]:
    """What a rebuild from a record says: one line, then the member diff and notes when it differs."""
    v = result.verification
    what = f"{result.name} {result.version} on Python {result.python} ({result.interpreter})"
    if v.status == "verified":
        return [printable(f"verified: {what}: wheel sha256 {v.rebuilt}, as recorded "
                          f"(record finished {v.finished or '?'}, environment {v.fingerprint[:16]})")]
    if v.status != "differs":  # a refusal's or an unavailable environment's reason says which it is
        said = v.reason if v.reason.startswith(("refused", "environment unavailable")) else f"{v.status}: {v.reason}"
        return [printable(f"{what}: {said}")]
    lines = [printable(f"differs: {what}: {v.reason}")]
    if v.differences:
        lines += ["  the recorded wheel -> the rebuilt one:"] + report.difference_lines(v.differences, limit=20)
    lines += [printable(f"  environment input differs, {note}") for note in v.notes]
    if result.status != "reproducible":
        lines.append(printable(f"  (the rebuild's own two builds: {result.status})"))
    return lines
