"""Sharing renders between the sockets of a process (console.live.views.Renders), and what
a socket may ask to follow."""

import asyncio

import pytest

from console.live import views as live_views


class CountingRender:
    def __init__(self):
        self.calls, self.gate = 0, None

    async def __call__(self):
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return 200, f"render {self.calls}"


def test_many_sockets_on_one_tick_make_one_render():
    async def scenario():
        renders, render = live_views.Renders(), CountingRender()
        renders.hold("key")
        results = await asyncio.gather(*(renders.get("key", 1.0, render) for _ in range(1000)))
        late = await renders.get("key", 1.0, render)  # a slow socket handling the same tick later
        return render.calls, set(results), late

    calls, results, late = asyncio.run(scenario())
    assert calls == 1 and results == {(200, "render 1")} and late == (200, "render 1")


def test_ticks_during_a_render_make_one_more_render_not_one_each():
    async def scenario():
        renders, render = live_views.Renders(), CountingRender()
        renders.hold("key")
        render.gate = asyncio.Event()
        first = asyncio.ensure_future(renders.get("key", 1.0, render))
        await asyncio.sleep(0)
        later = [asyncio.ensure_future(renders.get("key", stamp, render)) for stamp in (2.0, 3.0, 4.0)]
        await asyncio.sleep(0)
        render.gate.set()
        return await first, await asyncio.gather(*later), render.calls

    first, later, calls = asyncio.run(scenario())
    assert first == (200, "render 1")
    assert later == [(200, "render 2")] * 3  # the waiting render reads after the last tick
    assert calls == 2


def test_keys_are_not_shared_and_are_forgotten_with_their_last_follower():
    async def scenario():
        renders, render = live_views.Renders(), CountingRender()
        for key in ("a", "b", "b"):
            renders.hold(key)
        a, b = await renders.get("a", 1.0, render), await renders.get("b", 1.0, render)
        renders.release("b")
        kept = "b" in renders.latest
        renders.release("b")
        return a, b, kept, "b" in renders.latest, render.calls

    a, b, kept, still_there, calls = asyncio.run(scenario())
    assert a != b and calls == 2
    assert kept and not still_there


@pytest.mark.parametrize(
    "path, target, message",
    [
        ("https://evil.example/clusters/", "t", "path of this console"),
        ("//evil.example/clusters/", "t", "path of this console"),
        ("clusters/", "t", "path of this console"),
        ("/" + "a" * 1001, "t", "path of this console"),
        ("/no/such/page/", "t", "no such page"),
        ("/account/password/", "t", "cannot be followed live"),
        ("/clusters/c1/resources/Pod/", "", "element id"),
        ("/clusters/c1/resources/Pod/", "a b", "element id"),
        ("/clusters/c1/resources/Pod/", '"><script>', "element id"),
        (["/clusters/"], "t", "element id"),
    ],
)
def test_only_marked_views_of_this_console_may_be_followed(path, target, message, english):
    with pytest.raises(live_views.Refused, match=message):
        live_views.check(path, target)


def test_the_resource_table_is_marked_shared():
    assert live_views.check("/clusters/c1/resources/Pod/?namespace=shop", "resource-table") == "shared"
