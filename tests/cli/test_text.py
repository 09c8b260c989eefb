"""printable(): package-chosen text cannot drive the terminal or forge a line."""

from __future__ import annotations

import io
import re

import pytest

from pipeline.cli.report import details, result_line, table
from pipeline.cli.text import Console, printable
from pipeline.records import Build, Difference, Result

#: what must never reach a terminal from package text: C0/C1 controls, DEL, bidi overrides
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("text, shown", [
    ("plain/member.py", "plain/member.py"),
    ("a\x1b[2Jb", "a\\x1b[2Jb"),  # clear the screen
    ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),  # set the window title (OSC ... BEL)
    ("x\nok  reproducible", "x\\nok  reproducible"),  # a forged line
    ("tab\there\rcr", "tab\\there\\rcr"),
    ("\x9b31m", "\\x9b31m"),  # the one-byte CSI
    ("evil\u202egnp.py", "evil\\u202egnp.py"),  # right-to-left override
    ("caf\u00e9 \u00fcber", "caf\u00e9 \u00fcber"),  # ordinary non-ASCII stays readable
    ("bad\udcff", "bad\\udcff"),  # a lone surrogate from a file name
])
def test_printable_escapes_every_control(text, shown):
    assert printable(text) == shown
    assert not CONTROL.search(printable(text)) and "\n" not in printable(text)


def _hostile_result() -> Result:
    member = "pkg/\x1b[2J\nevil 9.9 3.12.1 ok   reproducible.py"
    wheel = "pkg-1.0-1\x1b]0;x\x07-py3-none-any.whl"
    return Result(name="pkg", version="1.0", python="3.12.1", interpreter="cp312", status="unreproducible",
                  started="", finished="", reproduce="r", message="member \x1b[31mred\nforged",
                  builds=(Build(wheel, "a" * 64, 1.0, f"/k/1/{wheel}", "/k/1/build.log", 0, "/b"),) * 2,
                  differences=(Difference(member, "content", "line one\n\x1b[2Jline two", "unexplained"),))


def test_the_report_never_carries_a_control_character_or_a_forged_row():
    result = _hostile_result()
    text = "\n".join([table([result]), *details([result]), result_line(result)])
    assert not CONTROL.search(text)
    assert not any(line.startswith("evil") for line in text.splitlines()), "no forged row"
    assert "\\x1b[2J\\nevil 9.9" in text, "the member is still shown, escaped"


def test_console_notes_and_problems_are_made_printable():
    err = io.StringIO()
    console = Console(verbosity=0, report_stream=io.StringIO(), err=err)
    console.note("a\x1b[2J\nb")
    console.problem("c\rd")
    console.note("hidden", level=1)
    assert err.getvalue() == "a\\x1b[2J\\nb\nc\\rd\n"
