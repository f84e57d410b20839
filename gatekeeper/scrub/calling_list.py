"""Reading a calling list (CSV) and writing its scrubbed copy.

Theory of operation: a calling list comes out of a CRM or a spreadsheet, so its form varies. A
first pass reads the file in chunks to fingerprint it (sha256, size) and to decide its encoding:
UTF-8, with or without a byte-order mark, else Latin-1, which reads any byte. The header line
decides the separator: of `,` `;` and tab, the one that splits the header, and the rows after it,
into the same and largest number of fields. The number column is the one named on the command
line, else the one whose header is a known name for a phone number (accents, case, spaces and
punctuation ignored: `Numéro de téléphone`, `GSM`, `Telefoonnummer`). The second pass streams the
rows: a row whose field count differs from the header's is an error, since its number may have
shifted into another column. Blank lines are skipped. The file must not change between the
passes (checked by its size and times), so the fingerprint is that of the rows scrubbed. Two
passes need a regular file: a pipe (standard input, a process substitution) or a device is
refused when opened, never waited on. UTF-16 and UTF-32, known by their byte-order mark or by
NUL bytes in the header line, are refused by name rather than misread as Latin-1.

The copy goes to a private (0600) temporary file beside the target (0640 to `officers_group`
when one is set: gatekeeper/common/officer_files.py), in UTF-8 (with a byte-order mark when the
input had one), with the input's separator and line ends, hashed as it is written; it replaces
the target only once complete and flushed to disk. Every cell written, the input's and ours,
goes through `csv_cell` (a printable cell through its equivalent `cell`, which skips the scan
for control characters), so a spreadsheet reads it as text, never as a formula or a number
(docs/scrub.md). Rows are encoded, hashed and written 64 KiB at a time.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Self, TextIO

from gatekeeper.common import (
    CSV_QUOTE,
    FORMULA_STARTS,
    ScrubInputError,
    ScrubUsageError,
    csv_cell,
    share,
)
from gatekeeper.dncm import NotRegularFileError, open_regular

if TYPE_CHECKING:
    from _csv import Reader

NUMBER_COLUMN_NAMES = frozenset(
    {
        "number",
        "phone",
        "phonenumber",
        "phoneno",
        "telephone",
        "telephonenumber",
        "tel",
        "telnr",
        "telno",
        "gsm",
        "gsmnr",
        "gsmnummer",
        "mobile",
        "mobilenumber",
        "mobiel",
        "mobielnummer",
        "msisdn",
        "numero",
        "numerodetelephone",
        "nummer",
        "telefoon",
        "telefoonnr",
        "telefoonnummer",
        "telefon",
        "telefonnummer",
    }
)
DELIMITERS = (",", ";", "\t")
SNIFF_ROWS = 20
CHUNK_BYTES = 1 << 20
WRITE_BLOCK_CHARS = 1 << 16
"""Rows are encoded, hashed and written a block at a time, not one call each."""
_CELL_STARTS_TO_QUOTE = FORMULA_STARTS | {CSV_QUOTE}
"""A printable cell (no control character to escape) starting so gets a quote; others none."""
MAX_REPORTED_PROBLEMS = 20
GK_PREFIX = "gk_"
GK_COLUMNS = ("gk_decision", "gk_reason", "gk_number", "gk_scrub_id")

_BOM = codecs.BOM_UTF8
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the input file is: its hash and size, and how its bytes are read."""

    sha256: str
    size: int
    encoding: str
    bom: bool
    not_utf8_line: int | None = None

    @property
    def note(self) -> str:
        """What a person should know about the encoding, or nothing."""
        if self.not_utf8_line is None:
            return ""
        return f"line {self.not_utf8_line} is not UTF-8: the file is read as Latin-1"


@dataclass(frozen=True, slots=True)
class Layout:
    """How the rows of a calling list are laid out."""

    header: tuple[str, ...]
    delimiter: str
    number_index: int
    line_end: str
    replaced: tuple[int, ...] = ()

    @property
    def number_column(self) -> str:
        """The header of the number column."""
        return self.header[self.number_index]

    @property
    def delimiter_name(self) -> str:
        """The separator as a word."""
        return _NAMES[self.delimiter]

    def kept(self, fields: Sequence[str]) -> list[str]:
        """The input fields that go to the output (earlier gk_ columns are replaced)."""
        if not self.replaced:
            return list(fields)
        return [value for i, value in enumerate(fields) if i not in self.replaced]

    def output_header(self) -> list[str]:
        """The output's header: the input's columns, then the gatekeeper's."""
        return [*self.kept(self.header), *GK_COLUMNS]


def fingerprint(path: Path) -> Fingerprint:
    """Hash the file and decide its encoding, reading it once in chunks."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    lines_before = 1
    bad_line: int | None = None
    first = b""
    try:
        with _open_input(path) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                if not first:
                    first = chunk
                    _refuse_wide_encoding(path, first)
                digest.update(chunk)
                size += len(chunk)
                if bad_line is None:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as err:
                        bad_line = lines_before + chunk.count(b"\n", 0, err.start)
                    lines_before += chunk.count(b"\n")
        if bad_line is None:
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        bad_line = lines_before
    except OSError as err:
        raise ScrubInputError(f"{path}: cannot read: {err.strerror}") from err
    if bad_line is not None:
        return Fingerprint(digest.hexdigest(), size, "latin-1", bom=False, not_utf8_line=bad_line)
    bom = first.startswith(_BOM)
    return Fingerprint(digest.hexdigest(), size, "utf-8-sig" if bom else "utf-8", bom=bom)


def _open_input(path: Path) -> BinaryIO:
    """The input, opened; a pipe or a device is refused, since the scrub reads the file twice."""
    try:
        return open_regular(path)
    except NotRegularFileError as err:
        raise ScrubUsageError(
            f"{err}: the scrub reads its input twice (to fingerprint it, then to decide its "
            "rows), so it must be a file; save the list to a file first"
        ) from err


def _refuse_wide_encoding(path: Path, start: bytes) -> None:
    """UTF-16 or UTF-32 (a byte-order mark, or NUL bytes in the first line) is refused by name."""
    for bom, name in _WIDE_BOMS:
        if start.startswith(bom):
            raise ScrubInputError(f"{path}: file is {name}; save it as UTF-8")
    if b"\0" in start.split(b"\n", 1)[0]:
        raise ScrubInputError(
            f"{path}:1: NUL bytes in the header line: the file is likely UTF-16 or UTF-32; "
            "save it as UTF-8"
        )


def header_key(name: str) -> str:
    """A header reduced for matching: no accents, no case, letters and digits only."""
    plain = unicodedata.normalize("NFKD", name)
    return "".join(c for c in plain if c.isalnum() and not unicodedata.combining(c)).casefold()


class ListReader:
    """The rows of a calling list, streamed; use as a context manager, iterate, then `finish`."""

    def __init__(self, path: Path, source: Fingerprint, column: str | None) -> None:
        self.path = path
        self._source = source
        self._column = column
        self._problems: list[str] = []
        self._problem_count = 0
        self._stream: TextIO | None = None
        self._identity: tuple[int, int, int] | None = None
        self.layout: Layout | None = None
        self._reader: Reader | None = None

    def __enter__(self) -> Self:
        try:
            raw = _open_input(self.path)
            stat = os.fstat(raw.fileno())
        except OSError as err:
            raise ScrubInputError(f"{self.path}: cannot read: {err.strerror}") from err
        self._stream = io.TextIOWrapper(raw, encoding=self._source.encoding, newline="")
        self._identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        started = False
        try:
            self._start(self._stream)
            started = True
        finally:
            if not started:
                self._stream.close()
        return self

    def _start(self, stream: TextIO) -> None:
        sample = list(itertools.islice(stream, SNIFF_ROWS + 1))
        if not sample or not sample[0].strip():
            raise ScrubInputError(f"{self.path}:1: expected a header line naming the columns")
        delimiter = sniff_delimiter(sample)
        reader = csv.reader(itertools.chain(sample, stream), delimiter=delimiter)
        header = tuple(self._next(reader) or ())
        self.layout = _layout(self.path, header, delimiter, sample[0], self._column)
        self._reader = reader

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.close()

    def _next(self, reader: Reader) -> list[str] | None:
        try:
            return next(reader)
        except StopIteration:
            return None
        except (csv.Error, UnicodeDecodeError) as err:
            raise self._unreadable(reader, err) from err

    def _unreadable(self, reader: Reader, err: csv.Error | UnicodeDecodeError) -> ScrubInputError:
        if isinstance(err, UnicodeDecodeError):  # only if the file changed after its fingerprint
            return ScrubInputError(f"{self.path}: changed while being scrubbed: {err}")
        return ScrubInputError(f"{self.path}:{reader.line_num}: {err}")

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """(line, fields) of every non-blank row with as many fields as the header."""
        assert self._reader is not None
        assert self.layout is not None
        reader, width = self._reader, len(self.layout.header)
        try:
            for fields in reader:
                if len(fields) == width:
                    yield reader.line_num, fields
                elif any(value.strip() for value in fields):
                    line = reader.line_num
                    self._problem(f"{self.path}:{line}: expected {width} fields, got {len(fields)}")
        except (csv.Error, UnicodeDecodeError) as err:
            raise self._unreadable(reader, err) from err

    def _problem(self, text: str) -> None:
        self._problem_count += 1
        if len(self._problems) < MAX_REPORTED_PROBLEMS:
            self._problems.append(text)

    def finish(self) -> None:
        """Raise ScrubInputError if a row was malformed or the file changed while read."""
        if self._problem_count:
            shown = list(self._problems)
            if self._problem_count > len(shown):
                shown.append(f"{self.path}: ... and {self._problem_count - len(shown)} more")
            shown.append(
                f"{self.path}: {self._problem_count} malformed row(s): nothing was scrubbed "
                "(a field count that differs from the header's may hide a shifted number)"
            )
            raise ScrubInputError("\n".join(shown))
        try:
            stat = self.path.stat()
        except OSError as err:
            raise ScrubInputError(f"{self.path}: cannot read: {err.strerror}") from err
        if (stat.st_ino, stat.st_size, stat.st_mtime_ns) != self._identity:
            raise ScrubInputError(f"{self.path}: changed while being scrubbed; run it again")


def sniff_delimiter(sample: list[str]) -> str:
    """The separator that gives the header the most fields, the same in every sampled row."""
    best, best_width = DELIMITERS[0], 1
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(sample, delimiter=delimiter) if row]
        except csv.Error:
            continue
        width = len(rows[0]) if rows else 0
        complete = rows[:-1] if len(sample) > SNIFF_ROWS else rows
        if width > best_width and all(len(row) == width for row in complete):
            best, best_width = delimiter, width
    return best


def _layout(
    path: Path, header: tuple[str, ...], delimiter: str, first_line: str, column: str | None
) -> Layout:
    line_end = "\r\n" if first_line.endswith("\r\n") else "\n"
    names = ", ".join(repr(name) for name in header)
    if column is not None:
        wanted = header_key(column)
        matches = [i for i, name in enumerate(header) if name.strip() == column.strip()]
        matches = matches or [i for i, name in enumerate(header) if header_key(name) == wanted]
        if len(matches) != 1:
            problem = "no column" if not matches else "more than one column"
            raise ScrubUsageError(f"{path}:1: {problem} named {column!r}; the header has {names}")
    else:
        matches = [i for i, name in enumerate(header) if header_key(name) in NUMBER_COLUMN_NAMES]
        if len(matches) != 1:
            found = ", ".join(repr(header[i]) for i in matches)
            problem = (
                f"no column is named like a phone number (number, phone, tel, gsm, numero, "
                f"nummer, ...); the header has {names}"
                if not matches
                else f"several columns could hold the number ({found})"
            )
            raise ScrubUsageError(f"{path}:1: {problem}: name the column with --column NAME")
    index = matches[0]
    replaced = tuple(
        i for i, name in enumerate(header) if name.strip().lower() in GK_COLUMNS and i != index
    )
    return Layout(header, delimiter, index, line_end, replaced)


def cell(value: str) -> object:
    """`csv_cell(value)`, without its character-by-character scan for a printable cell."""
    if not value.isprintable():
        return csv_cell(value)
    return CSV_QUOTE + value if value[:1] in _CELL_STARTS_TO_QUOTE else value


def _cells(values: Iterable[str]) -> list[object]:
    """`[cell(value) for value in values]`, without a call for a cell that stays as it is."""
    return [
        value if value.isprintable() and value[:1] not in _CELL_STARTS_TO_QUOTE else cell(value)
        for value in values
    ]


class ScrubbedWriter:
    """The scrubbed copy: a private temporary file, hashed as written, renamed when complete."""

    def __init__(
        self, target: Path, layout: Layout, *, bom: bool, group: str | None = None
    ) -> None:
        """`group`: the officers group that may read the copy (0640); None keeps it 0600."""
        self.target = target
        self._group = group
        self._layout = layout
        self._bom = bom
        self._digest = hashlib.sha256()
        self._temp: Path | None = None
        self._raw: BinaryIO | None = None
        self._pending = io.StringIO(newline="")
        self._writer = csv.writer(
            self._pending, delimiter=layout.delimiter, lineterminator=layout.line_end
        )
        self._kept = layout.kept if layout.replaced else None
        self.rows = 0

    def __enter__(self) -> Self:
        folder = self.target.parent
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=folder)
        except OSError as err:
            raise ScrubInputError(f"{self.target}: cannot write: {err.strerror}") from err
        self._temp = Path(name)
        self._raw = os.fdopen(fd, "wb")
        started = False
        try:
            share(fd, self.target, self._group)
            if self._bom:
                self._put(_BOM)
            self._writer.writerow([csv_cell(name) for name in self._layout.output_header()])
            started = True
        finally:
            if not started:
                self.discard()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def _flush_pending(self) -> None:
        pending = self._pending
        if pending.tell():
            text = pending.getvalue()
            pending.seek(0)
            pending.truncate()
            self._put(text.encode("utf-8"))

    def _put(self, data: bytes) -> None:
        assert self._raw is not None
        self._digest.update(data)
        try:
            self._raw.write(data)
        except OSError as err:
            raise ScrubInputError(f"{self.target}: cannot write: {err.strerror}") from err

    def row(self, fields: Sequence[str], added: Sequence[object]) -> None:
        """Write one row: the kept input fields, then the gatekeeper's, each through `cell`."""
        cells = _cells(fields if self._kept is None else self._kept(fields))
        cells += added
        self._writer.writerow(cells)
        self.rows += 1
        if self._pending.tell() >= WRITE_BLOCK_CHARS:
            self._flush_pending()

    def seal(self) -> str:
        """Flush the temporary file to disk; returns its sha256."""
        assert self._raw is not None
        self._flush_pending()
        try:
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
        except OSError as err:
            raise ScrubInputError(f"{self.target}: cannot write: {err.strerror}") from err
        return self._digest.hexdigest()

    def commit(self) -> None:
        """Put the sealed copy in place of the target."""
        assert self._temp is not None
        try:
            self._temp.replace(self.target)
            self._temp = None
            folder = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as err:
            raise ScrubInputError(f"{self.target}: cannot write: {err.strerror}") from err

    def discard(self) -> None:
        """Remove the temporary file unless it was committed."""
        if self._raw is not None and not self._raw.closed:
            self._raw.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None
