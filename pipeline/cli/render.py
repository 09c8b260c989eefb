"""``render``: the static site from the results store, or from files of result records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from ..errors import InvalidRecords, UsageError
from ..nightly.store import STORE_NAME, Store
from ..records import Result, results_from_json, sortable_utc
from .options import Parser, any_url, writable_folder


def load_results(paths: Iterable[Path]) -> Iterator[Result]:
    """Read result records from JSON files: a list of records, or an object with a "results" list."""
    for path in paths:
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidRecords(str(path), f"cannot read: {error.strerror or error}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidRecords(str(path), f"not JSON: {error}") from None
        yield from results_from_json(payload, str(path))


def _parser() -> Parser:
    parser = Parser("render", "Render the static site from the results store (or from files of result records).")
    parser.add_argument("--results", type=Path, nargs="+", help="JSON files of result records (default: the store)")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="the results folder whose store to read (default ./out)")
    parser.add_argument("--site", type=writable_folder, metavar="DIR", help="the site folder (default OUT/site)")
    parser.add_argument(
        "--generated",
        help="the 'last updated' time shown (default: the newest 'finished' in the results, so renders repeat)",
    )
    parser.add_argument("--log-root", type=Path, default=None, help="where relative log paths start (default: .)")
    add_repository(parser)
    return parser


def add_repository(parser) -> None:
    parser.add_argument("--repository", type=any_url, metavar="URL",
                        help="the tracker's git repository: the site's commands run the tool from it with pipx")


def site_renderer(log_root: Path, repository: str | None = None):
    """The renderer the nightly and publish end with; the page's "last updated" is the newest result, so a
    store renders the same twice.  (The site's modules are imported only when it renders.)"""

    def render(results: list[Result], out_dir: Path, extra: Mapping[str, bytes] | None = None) -> None:
        from ..site.render import render_site

        generated = max((sortable_utc(r.finished) for r in results if r.finished), default="")
        render_site(results, out_dir, generated=generated, log_root=log_root, extra=extra,
                    repository=repository or "")

    return render


def main_render(argv: Sequence[str] | None = None) -> int:
    from ..site.render import render_site

    args = _parser().parse_args(argv)
    if args.results:
        results = list(load_results(args.results))
    else:
        if not (args.out / STORE_NAME).is_file():  # reading must never make an empty store
            raise UsageError(f"no results store in {args.out} ({STORE_NAME}); run check or nightly with "
                             f"--out {args.out}, or pass --results FILE")
        with Store.open(args.out) as store:
            results = store.all_results()
        if args.log_root is None:
            args.log_root = args.out
    site = args.site or writable_folder(str(args.out / "site"))
    generated = args.generated or max((sortable_utc(r.finished) for r in results), default="")
    summary = render_site(results, site, generated=generated, log_root=args.log_root, repository=args.repository or "")
    print(
        f"rendered {summary.projects} projects from {summary.results} results into {summary.out_dir} "
        f"({summary.files} files, home page {summary.home_bytes // 1024} KB, "
        f"{summary.logs_copied} logs copied, {summary.logs_missing} missing)"
    )
    return 0
