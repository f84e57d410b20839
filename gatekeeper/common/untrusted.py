r"""Text from outside (AGI arguments, the log, calling lists) on its way to a person.

Three ways out, one helper each, so no caller has to remember the rules:

- `shown(text)`, for a terminal: every character that is not printable (control characters
  such as ESC, BEL, CR and NUL; format characters such as the bidirectional overrides; line and
  paragraph separators; unassigned code points) is written as its Python escape (`\x1b`,
  `\u202e`), so no byte sequence reaches the terminal as a command. Printable text is unchanged,
  so escaping twice is escaping once.
- `json_text(value)`, for JSON output: the same characters as `\uXXXX` escapes.
- `csv_cell(value)`, for a spreadsheet (the OWASP rule for CSV injection): a cell that begins
  with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front, so a
  spreadsheet takes it as text, never as a formula or a number; a cell that already begins with
  a quote gets one too, so dropping one leading quote (`plain_cell`) gives back the value.
  Control characters other than tab and line feed (NUL above all) are written as `\xNN`, and a
  carriage return as `\r`: the csv module does not quote a field holding a lone CR when rows
  end in LF, and a reader would take it for the end of the row. Those are not given back.
"""

from __future__ import annotations

import json

FORMULA_STARTS = frozenset("=+-@\t\r")
CSV_QUOTE = "'"
_KEPT_IN_CELLS = frozenset("\t\n")


def _escape(char: str) -> str:
    return repr(char)[1:-1]


def shown(text: str) -> str:
    """`text` with every non-printable character escaped, for a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def json_text(value: object, *, sort_keys: bool = False) -> str:
    r"""`value` as one line of JSON with no raw control character in it, for a terminal or file.

    `json.dumps` escapes only the C0 controls; DEL, the 8-bit C1 controls (CSI among them) and
    the other non-printable characters are written as `\uXXXX` too. Still plain JSON.
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


def csv_cell(value: object) -> object:
    """A value as a CSV cell a spreadsheet can only read as text.

    Whole numbers (not booleans) the gatekeeper wrote itself stay numbers; None is an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if not text:
        return text
    quote = CSV_QUOTE if text[0] in FORMULA_STARTS or text[0] == CSV_QUOTE else ""
    if any(_is_control(c) for c in text):
        text = "".join(_escape(c) if _is_control(c) else c for c in text)
    return quote + text


def plain_cell(cell: str) -> str:
    """The value `csv_cell` wrote, for a program reading the file: one leading quote dropped."""
    if (
        len(cell) > 1
        and cell[0] == CSV_QUOTE
        and (cell[1] in FORMULA_STARTS or cell[1] == CSV_QUOTE)
    ):
        return cell[1:]
    return cell


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 0x20 or 0x7F <= code < 0xA0) and char not in _KEPT_IN_CELLS
