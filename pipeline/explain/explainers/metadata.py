"""METADATA, WHEEL and entry_points.txt: say which fields changed, not which lines."""

from __future__ import annotations

import configparser
from email.parser import HeaderParser

from ..base import Context, Explanation, Member, clip_list
from ..causes import classify_text

_HEADER_FILES = (".dist-info/METADATA", ".dist-info/WHEEL")
_WIDTH = 60


def _short(value: str) -> str:
    value = " ".join(value.split())
    return repr(value if len(value) <= _WIDTH else value[: _WIDTH - 3] + "...")


def _headers(text: str) -> tuple[dict[str, list[str]], str]:
    message = HeaderParser().parsestr(text)
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key.lower(), []).append(str(value))
    payload = message.get_payload()
    return fields, payload if isinstance(payload, str) else ""


def _field_changes(fa: dict[str, list[str]], fb: dict[str, list[str]]) -> list[str]:
    changes = []
    for key in sorted(fa.keys() | fb.keys()):
        va, vb = fa.get(key, []), fb.get(key, [])
        if va == vb:
            continue
        if sorted(va) == sorted(vb):
            changes.append(f"{key}: same values in another order")
        elif len(va) == 1 and len(vb) == 1:
            changes.append(f"{key}: {_short(va[0])} -> {_short(vb[0])}")
        else:
            gone = [v for v in va if v not in vb]
            new = [v for v in vb if v not in va]
            change = [f"-{_short(v)}" for v in gone] + [f"+{_short(v)}" for v in new]
            changes.append(f"{key}: {clip_list(change, 2)}")
    return changes


def _entry_points(text: str) -> dict[str, list[str]]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    parser.read_string(text)
    return {f"{section}.{key}": [value] for section in parser.sections() for key, value in parser[section].items()}


def explain(path: str, a: Member, b: Member, context: Context) -> Explanation | None:
    is_headers = path.endswith(_HEADER_FILES)
    if not (is_headers or path.endswith(".dist-info/entry_points.txt")):
        return None
    da, db = a.data(), b.data()
    if da is None or db is None:
        return None
    ta, tb = da.decode("utf-8", "replace"), db.decode("utf-8", "replace")
    try:
        if is_headers:
            (fa, body_a), (fb, body_b) = _headers(ta), _headers(tb)
        else:
            (fa, body_a), (fb, body_b) = (_entry_points(ta), ""), (_entry_points(tb), "")
    except (configparser.Error, ValueError):
        return None  # not parseable as such: the text explainer will show lines instead
    changes = _field_changes(fa, fb)
    if body_a != body_b:
        changes.append("description body differs")
    if not changes:
        changes.append("same fields, different layout (whitespace or line endings)")
    evidence = classify_text(da, db)
    detail = "fields: " + "; ".join(changes[:4]) + (f" (+{len(changes) - 4} more)" if len(changes) > 4 else "")
    return Explanation(detail + (f" [{evidence.text()}]" if evidence.notes else ""), evidence.cause)
