"""The AGI reply codes and ``result=`` values the server relies on, named once.

`res_agi` answers a command that ran with ``200 result=<r>``; what ``<r>`` means depends on the
command. The other codes say the command did not run.
"""

from typing import Final

OK: Final = 200
"""The command ran; see ``result=``."""
INVALID_COMMAND: Final = 510
"""No such command."""
DEAD_CHANNEL: Final = 511
"""The channel hung up: the command cannot run on it."""
USAGE: Final = 520
"""Wrong arguments; the multi-line form ``520-`` carries the usage text."""

SET_VARIABLE_SUCCESS: Final = "1"
"""``SET VARIABLE`` answers ``200 result=1``."""
EXEC_SUCCESS: Final = "0"
"""``EXEC`` answers with the application's return value: ``200 result=0`` for ``MSet``."""
