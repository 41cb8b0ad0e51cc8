"""The server's own text checks refuse, in the server process, only what the codec would refuse later."""

from __future__ import annotations

import pytest

from dimsolve.guards.codec import MAX_OPERANDS, CodecError, parse_expr
from dimsolve.service.errors import ServiceError
from dimsolve.service.limits import CODEC_MAX_OPERANDS, _expr_operands

LIMIT = 4


def chain(op: str, n: int) -> str:
    return f" {op} ".join(f"(s0 > {i})" for i in range(n))


@pytest.mark.parametrize("text, refused", [
    pytest.param(chain("&", 4), False, id="and-chain-at-the-limit"),
    pytest.param(chain("&", 5), True, id="and-chain-past-the-limit"),
    pytest.param(chain("|", 5), True, id="or-chain-past-the-limit"),
    pytest.param(f"({chain('&', 3)}) | ({chain('&', 3)})", False, id="two-short-ands-in-an-or"),
    pytest.param(f"{chain('&', 3)} | {chain('&', 3)}", False, id="or-splits-the-and-runs"),
    pytest.param(f"Max({chain('&', 3)}, {chain('&', 3)}) > 1", False, id="commas-split-runs"),
    pytest.param(f"(({chain('&', 5)}))", True, id="nested-in-parentheses"),
    pytest.param("s0 > 2", False, id="no-chain"),
])
def test_operand_chains(text, refused):
    if refused:
        with pytest.raises(ServiceError) as info:
            _expr_operands(text, LIMIT, "guardset.guards[0].expr")
        assert (info.value.status, info.value.limit, info.value.limit_value) == (422, "max_expr_operands", LIMIT)
    else:
        _expr_operands(text, LIMIT, "guardset.guards[0].expr")


@pytest.mark.parametrize("n", [CODEC_MAX_OPERANDS, CODEC_MAX_OPERANDS + 1])
def test_the_server_refuses_a_chain_exactly_when_the_codec_does(n):
    text = chain("&", n)
    try:
        parse_expr(text)
        codec_refuses = False
    except CodecError:
        codec_refuses = True
    try:
        _expr_operands(text, CODEC_MAX_OPERANDS, "e")
        server_refuses = False
    except ServiceError:
        server_refuses = True
    assert CODEC_MAX_OPERANDS == MAX_OPERANDS
    assert server_refuses == codec_refuses == (n > MAX_OPERANDS)
