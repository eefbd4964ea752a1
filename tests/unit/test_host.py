"""PolicyHost's decision callers give what pluggy's firstresult dispatch gives, direct or not."""

from __future__ import annotations

from paraphina.hookspecs import hookimpl
from paraphina.host import PolicyHost


class Policy:
    name = "p"

    @hookimpl
    def paraphina_quotes(self, ctx):
        return ["quotes", ctx]

    @hookimpl
    def paraphina_exits(self):          # pluggy passes only the arguments an implementation names
        return ["exits"]


class Answering:
    """An observer that also answers the quotes hook (registered after the policy: asked first)."""

    name = "o"

    def __init__(self, answer):
        self.answer = answer

    @hookimpl
    def paraphina_quotes(self, ctx):
        return self.answer


def test_single_plain_implementation_is_called_directly():
    host = PolicyHost(Policy())
    assert host.quotes == host.policy.paraphina_quotes      # the bound method itself, no dispatch
    assert host.quotes("c") == ["quotes", "c"] == host.hook.paraphina_quotes(ctx="c")


def test_other_shapes_go_through_pluggy():
    host = PolicyHost(Policy())
    assert host.exits("c") == ["exits"] == host.hook.paraphina_exits(ctx="c")   # no ctx argument
    assert host.hedges("c") is None is host.hook.paraphina_hedges(ctx="c")     # no implementation
    for answer in (None, ["observer"]):
        two = PolicyHost(Policy(), observers=[Answering(answer)])
        assert two.quotes("c") == two.hook.paraphina_quotes(ctx="c") == (answer or ["quotes", "c"])
