"""Sharing renders between the sockets of a process (console.live.views.Renders), and what
a socket may ask to follow."""

import asyncio

import pytest

from console.live import views as live_views

from ..live import run_async


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

    calls, results, late = run_async(scenario())
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

    first, later, calls = run_async(scenario())
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

    a, b, kept, still_there, calls = run_async(scenario())
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


# --- what a pushed view looks like: the target's content wrapped, its oob panels beside it


def test_top_level_oob_elements_stay_beside_the_wrapper():
    html = (
        '<section id="rollout"><p>ready<br>2/2</section>\n'
        '<span id="app-status" hx-swap-oob="true">Running</span>\n'
        '<div id="app-actions" class="ms-auto" hx-swap-oob="true"><form><input name="x"></form></div>'
    )
    assert live_views.wrap("app-live", html) == (
        '<div id="app-live" hx-swap-oob="innerHTML"><section id="rollout"><p>ready<br>2/2</section>\n\n</div>'
        '<span id="app-status" hx-swap-oob="true">Running</span>'
        '<div id="app-actions" class="ms-auto" hx-swap-oob="true"><form><input name="x"></form></div>'
    )


@pytest.mark.parametrize(
    "html, oob, rest",
    [
        # nothing marked: the fragment as it is (the resource table)
        ("<table><tr><td>a</td></tr></table>", (), "<table><tr><td>a</td></tr></table>"),
        # marked inside another element: not top level, stays where it is
        (
            '<div><span hx-swap-oob="true" id="a">x</span></div>',
            (),
            '<div><span hx-swap-oob="true" id="a">x</span></div>',
        ),
        # void elements at top level, marked or not, and inside
        (
            '<input id="i" hx-swap-oob="true"><img src="x"><hr>',
            ('<input id="i" hx-swap-oob="true">',),
            '<img src="x"><hr>',
        ),
        (
            '<p id="p" hx-swap-oob="true">a<br>b<img src=x></p>',
            ('<p id="p" hx-swap-oob="true">a<br>b<img src=x></p>',),
            "",
        ),
        # self-closing syntax
        ('<span id="s" hx-swap-oob="true"/>rest', ('<span id="s" hx-swap-oob="true"/>',), "rest"),
        # elements left open inside end with their parent (<p>, <li>, <td>)
        (
            '<div id="d" hx-swap-oob="true"><p>one<p>two<ul><li>a<li>b</ul></div><b>x</b>',
            ('<div id="d" hx-swap-oob="true"><p>one<p>two<ul><li>a<li>b</ul></div>',),
            "<b>x</b>",
        ),
        # a stray end tag does not end the element
        ('<div id="d" hx-swap-oob="true">a</span>b</div>c', ('<div id="d" hx-swap-oob="true">a</span>b</div>',), "c"),
        # what looks like markup in attributes, comments and scripts is not
        (
            '<div title="a>b</div>" hx-swap-oob="true">x</div>y',
            ('<div title="a>b</div>" hx-swap-oob="true">x</div>',),
            "y",
        ),
        ('<!-- <div hx-swap-oob="true"> --><i>x</i>', (), '<!-- <div hx-swap-oob="true"> --><i>x</i>'),
        (
            '<script>if (a</div>) {"hx-swap-oob"}</script><b id="b" hx-swap-oob="true">x</b >',
            ('<b id="b" hx-swap-oob="true">x</b >',),
            '<script>if (a</div>) {"hx-swap-oob"}</script>',
        ),
        # any value, htmx's data- spelling, upper case, across lines
        (
            '<DIV ID="a"\n     HX-SWAP-OOB="outerHTML:#a">x\n</DIV>\n<p>r</p>',
            ('<DIV ID="a"\n     HX-SWAP-OOB="outerHTML:#a">x\n</DIV>',),
            "\n<p>r</p>",
        ),
        ('<div id="a" data-hx-swap-oob="true">x</div>', ('<div id="a" data-hx-swap-oob="true">x</div>',), ""),
        # never closed: left where it is rather than cut
        ('<b>x</b><div id="a" hx-swap-oob="true">open', (), '<b>x</b><div id="a" hx-swap-oob="true">open'),
        # text and entities around, unchanged
        (
            'a &amp; b <i id="i" hx-swap-oob="true">&lt;x&gt;</i> c',
            ('<i id="i" hx-swap-oob="true">&lt;x&gt;</i>',),
            "a &amp; b  c",
        ),
    ],
)
def test_split_oob_finds_top_level_marked_elements_exactly(html, oob, rest):
    assert live_views.split_oob(html) == (oob, rest)


def test_views_with_forms_are_rendered_for_each_browser_not_each_user():
    """A per-user view's forms carry a CSRF token valid only with the browser's own cookie: two
    browsers of one user must not share a render; sockets of one browser may."""

    class User:
        pk = 7

    def scope(session, csrf):
        return {"user": User(), "cookies": {"sessionid": session, "csrftoken": csrf}}

    laptop, phone = scope("s1", "c1"), scope("s2", "c2")
    assert live_views.reader(laptop, "per-user") != live_views.reader(phone, "per-user")
    assert live_views.reader(laptop, "per-user") == live_views.reader(scope("s1", "c1"), "per-user")
    assert live_views.reader(laptop, "per-user") != live_views.reader(scope("s1", "c2"), "per-user")
    assert live_views.reader(laptop, "per-user").startswith("user-7-")
    assert live_views.reader(laptop, "shared") == live_views.reader(phone, "shared") == "shared"


def test_the_app_page_is_marked_per_browser():
    assert live_views.check("/workloads/acme/acme-web/apps/shop/", "app-live") == "per-user"
