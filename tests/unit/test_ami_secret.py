"""Reading the AMI secret from its file: clear errors that never show the secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from gatekeeper.ami.service import SECRET_LIMIT_BYTES, read_secret
from gatekeeper.common.errors import ConfigError


def test_secret_is_the_first_line_without_blanks(tmp_path: Path) -> None:
    """A trailing newline or spaces around the secret are not part of it."""
    path = tmp_path / "ami.secret"
    path.write_text("  s3cret-value \nignored\n", encoding="utf-8")
    assert read_secret(path) == "s3cret-value"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"x" * (SECRET_LIMIT_BYTES + 1), "is larger than"),
    ],
)
def test_unusable_secret_file_is_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    """Empty, non-text and oversized files are refused naming ami.secret_file."""
    path = tmp_path / "ami.secret"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"ami.secret_file: .* {problem}"):
        read_secret(path)


def test_missing_secret_file_is_refused(tmp_path: Path) -> None:
    """A file that cannot be read is refused with the reason."""
    with pytest.raises(ConfigError, match=r"ami\.secret_file: cannot read .*No such file"):
        read_secret(tmp_path / "absent")


def test_unset_secret_file_is_refused() -> None:
    """Without ami.secret_file there is no secret: that is a configuration error."""
    with pytest.raises(ConfigError, match=r"ami\.secret_file: not set"):
        read_secret(None)
