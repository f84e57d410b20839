r"""Text from outside (AGI arguments, the log, calling lists) on its way to a person.

Two ways out, one helper each, so no caller has to remember the rules:

- `shown(text)`, for a terminal: every character that is not printable (control characters
  such as ESC, BEL, CR and NUL; format characters such as the bidirectional overrides; line and
  paragraph separators; unassigned code points) is written as its Python escape (`\x1b`,
  `\u202e`), so no byte sequence reaches the terminal as a command. Printable text is unchanged,
  so escaping twice is escaping once.
- `csv_cell(value)`, for a spreadsheet (the OWASP rule for CSV injection): a cell that begins
  with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front, so a
  spreadsheet takes it as text, never as a formula or a number; a cell that already begins with
  a quote gets one too, so dropping one leading quote always gives back the value. Control
  characters other than tab, line feed and carriage return (NUL above all) are written as `\xNN`.
"""

from __future__ import annotations

FORMULA_STARTS = frozenset("=+-@\t\r")
CSV_QUOTE = "'"
_KEPT_IN_CELLS = frozenset("\t\n\r")


def _escape(char: str) -> str:
    return repr(char)[1:-1]


def shown(text: str) -> str:
    """`text` with every non-printable character escaped, for a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


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
    if any(_is_control(c) for c in text):
        text = "".join(_escape(c) if _is_control(c) else c for c in text)
    if text[0] in FORMULA_STARTS or text[0] == CSV_QUOTE:
        return CSV_QUOTE + text
    return text


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 0x20 or 0x7F <= code < 0xA0) and char not in _KEPT_IN_CELLS
