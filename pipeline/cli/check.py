"""``check``: build each wheel twice per Python and compare; requirements files in, a verified wheelhouse out.

Inputs are taken one at a time: a bad argument or requirements line is refused in one line, gets
an ``error`` record, and the others go on.  Every check's record is added to the results store
under --out as it ends.  Output: one line per package x Python as it finishes, the details of what
is not reproducible, the index comparison once per release, and the table last.  ``--from-record``
rebuilds records instead (:mod:`pipeline.cli.from_record`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..engine.check import Checker, CheckOptions, Phase
from ..engine.interpreters import Interpreter, discover, parse_wanted, probe
from ..engine.outcome import Draft, rederive_command, reproduce_command
from ..engine.resolve import parse_requirement
from ..engine.target import Target, is_local, is_url
from ..errors import PipelineError, UsageError
from ..nightly.store import Store
from ..records import PYPI_SIMPLE, VERIFIABLE, Result
from . import report
from .from_record import main_from_record
from .jobs import Runner
from .options import (Parser, add_build_options, add_out, add_verbosity, check_options, flatten, positive_int,
                      python_versions, record_source, writable_folder)
from .progress import LiveProgress
from .requirements import Entry, load_requirements, requirements_file
from .text import NORMAL, QUIET, VERBOSE, Console, save_traceback
from .wheelhouse import write_wheelhouse


def json_destination(text: str) -> str:
    """--json: ``-`` (stdout) or a file whose folder exists and that is not a folder itself."""
    if text == "-":
        return text
    path = Path(text)
    if "\x00" in text or path.is_dir() or not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write JSON to {text!r}: give '-' or a file in an existing folder")
    return text


def _parser() -> Parser:
    parser = Parser("check", "Build each wheel twice per Python and say whether it is reproducible.")
    add = parser.add_argument
    add("targets", nargs="*", metavar="PKG[==VER] | SDIST | URL",
        help="a project on the index (latest release, or this version), a local sdist, or an sdist's URL")
    add("-r", "--requirement", dest="requirements", action="append", type=requirements_file, default=[],
        metavar="FILE", help="check every NAME==VERSION of a requirements file (pip's format: environment markers "
                             "are evaluated per Python, --hash is enforced); repeatable")
    add("--python", action="append", type=python_versions, metavar="X.Y[.Z]",
        help="interpreter(s) to use, repeatable or comma-separated (default: every supported one found)")
    add("--json", type=json_destination, metavar="FILE|-",
        help="write every record as a JSON list ('-': to stdout, and the text to stderr)")
    add("--wheelhouse", type=writable_folder, metavar="DIR",
        help="copy every reproducible wheel to DIR, with SHA256SUMS and each wheel's build environment")
    add("--include-unreproducible", action="store_true",
        help="with --wheelhouse: add the unreproducible wheels too (they are listed)")
    add("--jobs", type=positive_int, default=min(2, os.cpu_count() or 1), metavar="N", help="checks run at once (default 2)")
    add_out(parser)
    add("--vary", action="store_true", help="strict check: rebuild a reproducible wheel under variations (docs/vary.md)")
    add("--no-upstream", action="store_true", help="do not compare with the wheel the index publishes")
    add("--require-upstream", action="store_true",
        help="exit 1 unless the index's wheel is identical or equivalent to a rebuild (docs/upstream.md)")
    add("--from-record", type=record_source, metavar="FILE|URL|DIR",
        help="rebuild records (a --json file, the site's JSON API, a results folder's store) with their exact "
             "interpreter, locks, sdist and controls, and say verified or what differs; PKG[==VER] and --python "
             "pick records")
    add_verbosity(parser)
    add_build_options(parser)
    parser.set_defaults(index_url=None)  # with --from-record, the record's index unless one is given
    return parser


def exit_code(results: Sequence[Result]) -> int:
    """0: all reproducible; 1: something is unreproducible; 2: something could not be checked.

    ``not-applicable`` (the release excludes that Python) leaves the code alone.
    """
    statuses = {r.status for r in results} - {"not-applicable"}
    if "unreproducible" in statuses:
        return 1
    if statuses - {"reproducible"} or not results:
        return 2
    return 0


@dataclass(frozen=True)
class Input:
    """One thing to check, as the user gave it: an argument, or a requirements file's entry."""

    argument: str
    entry: Entry | None = None

    @property
    def label(self) -> str:
        return f"{self.entry.where}: {self.entry.text}" if self.entry else self.argument


@dataclass
class Slot:
    """An input and what became of it: the interpreters it applies to, what is built on each (the
    release pip picks there), the refusals said for it, and its records."""

    input: Input
    interpreters: tuple[Interpreter, ...] = ()
    pairs: list[tuple[Target, Interpreter]] = field(default_factory=list)
    refusals: list[Result] = field(default_factory=list)  # `error` records for refused targets, said once
    results: list[Result] = field(default_factory=list)  # what its checks returned
    checked: bool = False  # its records come from real releases (else it was refused before any)

    @property
    def records(self) -> list[Result]:
        return self.refusals + self.results


def find_interpreters(values: list[list[str]] | None, console: Console) -> tuple[Interpreter, ...]:
    """The interpreters asked for (X.Y, or exactly X.Y.Z); a missing one is named and the run goes on."""
    asked = [value for value in flatten(values) if value != "all"]
    exact = {".".join(v.split(".")[:2]): v for v in asked if v.count(".") == 2}
    minors = parse_wanted(list(dict.fromkeys(".".join(v.split(".")[:2]) for v in asked)))
    loose = discover([m for m in minors if m not in exact])
    if loose.missing:
        console.problem(loose.missing_message())
    found = {i.minor: i for i in loose.found}
    for minor, version in exact.items():
        matching = discover([minor], prober=lambda path, v=version: _exactly(probe(path), v)).found
        if matching:
            found[minor] = matching[0]
        else:
            console.problem(f"Python {version} not found on PATH, in pyenv or uv; going on without")
    if not found:
        raise UsageError("no requested Python interpreter found; nothing to check")
    return tuple(found[m] for m in minors if m in found)


def _exactly(interpreter: Interpreter | None, version: str) -> Interpreter | None:
    return interpreter if interpreter is not None and interpreter.version == version else None


def gather(args: argparse.Namespace) -> list[Input]:
    inputs = [Input(argument) for argument in args.targets]
    try:
        entries = load_requirements(args.requirements, args.index_url)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read a requirements file: {error}") from None
    inputs += [Input(entry.spec, entry) for entry in entries]
    if not inputs:
        raise UsageError("nothing to check: give PKG[==VER], an sdist, or -r FILE")
    return inputs


def refused_records(slot: Slot, reason: str, options: CheckOptions) -> list[Result]:
    """`error` records for an input refused before any build (never a verdict, never stored)."""
    argument, entry = slot.input.argument, slot.input.entry
    local = not entry and (is_url(argument) or is_local(argument))
    name, version = (entry.name, entry.version) if entry and entry.name else (argument, "")
    if not local and not entry:
        try:
            name, version = parse_requirement(argument)
            version = version or ""
        except PipelineError:
            pass
    return [Draft(name=name, version=version, python=i.version, interpreter=i.tag,
                  reproduce=reproduce_command(argument, i.minor, options, from_index=not local),
                  index_url="" if local else options.index_url).finish("error", message=reason)
            for i in slot.interpreters]


def tracker_error(error: Exception) -> str:
    return f"tracker error: {type(error).__name__}: {error} (traceback: {save_traceback(error)})"


def prepare_slots(inputs: list[Input], checker: Checker, interpreters: tuple[Interpreter, ...],
                  console: Console) -> list[Slot]:
    """Each input resolved, fetched and verified in turn; a refusal is said once and the others go on."""
    slots: list[Slot] = []
    seen: dict[tuple[str, str], str] = {}
    options = checker.options
    for item in inputs:
        slot = Slot(item, interpreters)
        slots.append(slot)

        def refuse(reason: str) -> None:
            console.problem(f"refused: {item.label}: {reason}")
            slot.refusals = refused_records(slot, reason, options)

        entry = item.entry
        if entry and entry.problem:
            refuse(entry.problem)
            continue
        if entry and entry.marker is not None:
            try:
                slot.interpreters = tuple(i for i in interpreters if entry.applies_to(i))
            except Exception as error:  # an environment marker packaging cannot evaluate
                refuse(f"cannot evaluate the marker {entry.marker}: {error}")
                continue
            skipped = [i.minor for i in interpreters if i not in slot.interpreters]
            if skipped:
                console.note(f"skipped: {item.label}: its marker ({entry.marker}) excludes Python "
                             f"{', '.join(skipped)}")
            if not slot.interpreters:
                continue
        console.note(f"resolving {item.label}", VERBOSE)
        try:
            pairs = checker.targets(item.argument, slot.interpreters, entry.hashes if entry else ())
        except PipelineError as error:
            refuse(str(error))
            continue
        except Exception as error:  # e.g. a name with a NUL byte the OS refuses: this input only
            refuse(tracker_error(error))
            continue
        for target, interpreter in pairs:
            key = (target.name, target.version, interpreter.tag)
            if key in seen:
                console.note(f"skipped: {item.label}: {target.name} {target.version} on {interpreter.tag} is "
                             f"already listed ({seen[key]})")
                continue
            seen[key] = item.label
            slot.checked = True
            if not target.problem:
                slot.pairs.append((target, interpreter))
                continue
            # a real release whose sdist is refused: error records, stored, said once per release
            if not any(r.message == target.problem for r in slot.refusals):
                console.problem(f"refused: {item.label}: {target.problem}")
            slot.refusals.append(checker.draft(target, interpreter).finish("error", message=target.problem))
    return slots


def main_check(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    index_given, args.index_url = args.index_url is not None, args.index_url or PYPI_SIMPLE
    if args.require_upstream and args.no_upstream:
        raise UsageError("--require-upstream needs the comparison that --no-upstream turns off")
    console = Console(args.verbosity, report_stream=sys.stderr if args.json == "-" else sys.stdout)
    if args.from_record:
        return main_from_record(args, index_given, console)
    inputs = gather(args)
    interpreters = find_interpreters(args.python, console)
    options = check_options(args, args.out, vary=args.vary, upstream=not args.no_upstream)
    progress = LiveProgress(console) if args.verbosity > QUIET else None
    checker = Checker(options, progress=progress or (lambda event: None))
    try:
        with Store.open(args.out) as store:
            slots = prepare_slots(inputs, checker, interpreters, console)
            for slot in slots:
                for record in slot.refusals if slot.checked else ():
                    store.add(record)
            run_checks(slots, checker, store, console, args.jobs)
            agree(slots, checker)
    finally:
        if progress:
            progress.close()
    records = [record for slot in slots for record in slot.records]
    checked = [record for slot in slots if slot.checked for record in slot.records]
    if args.json == "-":
        json.dump([r.to_json() for r in records], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in records], indent=2) + "\n")
    if args.wheelhouse:
        say_wheelhouse(write_wheelhouse(args.wheelhouse, checked, args.include_unreproducible), console)

    def rederive(r: Result) -> str:
        """The command that rebuilds a verdict's record from the --json file it was written to."""
        if not args.json or args.json == "-" or r.status not in VERIFIABLE:
            return ""
        return rederive_command(args.json, r.name, r.version, r.python, options, index=index_given)

    print_report(slots, checked, checker, console, rederive)
    if args.require_upstream:
        return max(exit_code(records), upstream_exit_code(checked))
    return exit_code(records)


def upstream_exit_code(results: Sequence[Result]) -> int:
    """--require-upstream: 0 when every index wheel is identical or equivalent to a rebuild; 2 when a
    comparison could not be made (not-checked, or no build to compare); 1 otherwise (different,
    no-wheel, not-comparable, a local sdist with no index wheel)."""
    if not results:
        return 2
    ups = [r.upstream for r in results]
    if all(u is not None and u.reproduced for u in ups):
        return 0
    if any(u is not None and u.status == "not-checked" for u in ups):
        return 2
    return 1


def run_checks(slots: list[Slot], checker: Checker, store: Store, console: Console, workers: int) -> None:
    """Both builds of every (target, interpreter), ``workers`` at a time, each record stored as it ends."""
    jobs = [(slot, target, interpreter) for slot in slots for target, interpreter in slot.pairs]

    def work(job) -> Result:
        _, target, interpreter = job
        try:
            return checker.check(target, interpreter)
        finally:
            checker.progress(Phase(target.name, target.version, interpreter.tag, "done"))

    def failed(job, error: Exception) -> Result:
        _, target, interpreter = job
        return checker.draft(target, interpreter).finish("error", message=tracker_error(error))

    def done(job, result: Result) -> None:
        store.add(result)
        console.note(report.result_line(result, _log(checker, result)))

    results = Runner(work, failed, done, workers).run(jobs)
    for (slot, _, _), result in zip(jobs, results):
        slot.results.append(result)


def agree(slots: list[Slot], checker: Checker) -> None:
    """Each release's agreement across the interpreters just checked, on its records (for the report
    and --json; the site derives it from the store)."""
    built = [result for slot in slots for result in slot.results]
    agreed = iter(checker.agree(built))
    for slot in slots:
        slot.results = [next(agreed) for _ in slot.results]


def _log(checker: Checker, result: Result) -> str:
    return report.failure_log(result, checker.workspace.result_dir(result.name, result.version, result.interpreter))


def say_wheelhouse(outcome, console: Console) -> None:
    placed = len(outcome.placed)
    console.note(f"wheelhouse {report.shown_path(outcome.folder)}: {placed} wheel{'s' * (placed != 1)}, "
                 f"SHA256SUMS, and each wheel's build environment in WHEEL.buildenv/")
    for item in outcome.placed:
        if not item.reproducible:
            console.problem(f"wheelhouse: added UNREPRODUCIBLE {item.wheel} (--include-unreproducible)")
    for what, why in outcome.left_out:
        console.problem(f"wheelhouse: left out {what}: {why}")


def print_report(slots: list[Slot], checked: list[Result], checker: Checker, console: Console,
                 rederive: Callable[[Result], str] = lambda r: "") -> None:
    """Details (what is not reproducible; everything with -v), the index comparison once per release,
    then the table last."""
    if console.verbosity >= NORMAL:
        built = [r for slot in slots for r in slot.results]
        shown = built if console.verbosity >= VERBOSE else [r for r in built if r.status != "reproducible"]
        for block in report.details(shown, upstream=False, logs=lambda r: _log(checker, r),
                                    rederive=rederive):
            console.report(block)
        for block in report.upstream_blocks(checked):
            console.report(block)
        for block in report.agreement_blocks(checked):
            console.report(block)
    refused = sum(1 for slot in slots if not slot.checked and slot.records)
    if refused:
        console.report(f"\n{refused} of {len(slots)} inputs could not be checked (each is named above)")
    if checked:
        console.report(report.table(checked))
