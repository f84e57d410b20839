"""The AGI URL's query (`agi://host/check?pbx=NAME`): the script stays `check`, the PBX is read."""

from __future__ import annotations

import pytest
from gatekeeper.agi.protocol import Environment
from gatekeeper.agi.server import MAX_URL_PARAMETERS, AgiRequest
from gatekeeper.serve.app import pbx_of


def request(script: str) -> AgiRequest:
    """The request of an environment naming this network script."""
    return AgiRequest.from_environment(
        Environment(variables={"agi_network_script": script}, arguments=()), "127.0.0.1:5000"
    )


def test_query_is_not_part_of_the_script() -> None:
    """`check?pbx=pbx-a.brussels` is the check script with the parameter pbx."""
    asked = request("check?pbx=pbx-a.brussels")
    assert (asked.script, dict(asked.parameters)) == ("check", {"pbx": "pbx-a.brussels"})
    assert pbx_of(asked) == "pbx-a.brussels"


def test_no_query_no_pbx() -> None:
    """Without a query (or with an empty `pbx=`, as an unset ${SYSTEMNAME} gives) no PBX."""
    assert (request("check").script, pbx_of(request("check"))) == ("check", "")
    assert pbx_of(request("check?pbx=")) == ""


@pytest.mark.parametrize("value", ["%1B%5B31mred", "a%20b", "%3D%2Bcmd", "x" * 65, "-leading-dash"])
def test_pbx_that_is_not_a_plain_name_is_not_recorded(value: str) -> None:
    """A PBX name with control characters, spaces, formula signs or over 64 chars is dropped."""
    assert pbx_of(request(f"check?pbx={value}")) == ""


def test_parameters_are_bounded() -> None:
    """Only the first MAX_URL_PARAMETERS pairs are read, however long the query."""
    asked = request("check?" + "&".join(f"p{n}=v" for n in range(10_000)))
    assert len(asked.parameters) == MAX_URL_PARAMETERS
