"""A stand-in for VICIdial's `call_log` FastAGI (FastAGI_log.pl), enough for the gatekeeper tests.

Start stage (`call_log`): for a caller id name of an auto-dial (`V…`) or manual (`M…`) call with
18 or more digits, it looks up the call's campaign (VICIdial reads `vicidial_auto_calls`; here a
dict the test fills) and sets `_CAMPCUST` to it, as VICIdial does. End stage
(`call_log--HVcauses--PRI-----NODEBUG-----CAUSE-----DIALSTATUS-----…`, from the h extension): it
gives the lead the status VICIdial's Enhanced Disconnect Logging gives it (`DNCCAR` for
DIALSTATUS DNC, `ADCT` for CONGESTION with cause 21/34/38/102), keyed by the lead id in the
caller id name.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

_VICIDIAL_CALLER = re.compile(r"^[VM].*\d{18}")
_TEMPORARY_CAUSES = frozenset({"21", "34", "38", "102"})


def lead_status(dialstatus: str, cause: str) -> str:
    """The status VICIdial's call_log gives an auto-dial lead, per its disconnect logging."""
    if "DNC" in dialstatus:
        return "DNCCAR"
    if "CONGESTION" in dialstatus and cause in _TEMPORARY_CAUSES:
        return "ADCT"
    if "BUSY" in dialstatus:
        return "AB"
    return ""


@dataclass
class CallLog:
    """The stand-in server; `campaigns` maps caller id names to VICIdial campaign ids."""

    campaigns: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    """Lead id → the status the end stage gave it."""
    port: int = 0
    _server: socketserver.ThreadingTCPServer | None = None

    def __enter__(self) -> Self:
        log = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                environment: dict[str, str] = {}
                while line := self.rfile.readline().decode().strip():
                    key, _, value = line.partition(": ")
                    environment[key] = value
                log.serve(environment, self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def serve(
        self, environment: dict[str, str], handler: socketserver.StreamRequestHandler
    ) -> None:
        """One AGI session: the start stage sets CAMPCUST, the end stage records a status."""
        request = environment.get("agi_network_script", "")
        caller = environment.get("agi_calleridname", "")
        if request == "call_log":
            campaign = self.campaigns.get(caller, "")
            if _VICIDIAL_CALLER.match(caller) and campaign:
                handler.wfile.write(f'EXEC Set "_CAMPCUST={campaign}"\n'.encode())
                handler.rfile.readline()
        elif request.startswith("call_log--HVcauses--"):
            parts = request.removeprefix("call_log--HVcauses--").split("-----")
            cause, dialstatus = [*parts, "", "", "", ""][2:4]
            lead_id = (
                str(int(caller[10:20])) if len(caller) >= 20 and caller[10:20].isdigit() else ""
            )
            if lead_id:
                self.statuses[lead_id] = lead_status(dialstatus, cause)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
