"""Websocket tampering: whatever a page's socket sends (malformed or nested JSON, JSON that is
not an object, unknown messages, frames too large or binary, groups the user may not see
or that cannot exist), the consumer answers with an error fragment that says why, keeps
the socket open, and joins nothing. tests/integration/test_worker_and_websocket.py checks
a few of these through daphne; this goes through all of them against the consumer itself.
"""

import html
import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from console.jobs.models import Job
from console.live import realtime
from console.live.consumers import LiveConsumer
from workloads.models import App

from ..factories import create_two_tenants, mk_user

pytestmark = pytest.mark.django_db

NOT_JSON = "Messages must be valid JSON."
NOT_OBJECT = "Messages must be JSON objects."
UNKNOWN = 'Unknown message: expected {"subscribe": "<group>"}.'
TOO_BIG = "Messages must be JSON text of at most 4 KB."
REFUSED = "You may not follow"


def expecting(expected, frames):
    """Cases (label, frame, expected): each frame, named by its label, must be answered with `expected`."""
    return [(label, frame, expected) for label, frame in frames.items()]


MALFORMED = expecting(
    NOT_JSON,
    {
        "not JSON": "this is not json",
        "empty frame": "",
        "unclosed object": '{"subscribe": "user-1"',
        "single quotes": "{'subscribe': 'user-1'}",
        "NUL": "\x00",
        "trailing garbage": '{"subscribe": "user-1"} x',
        # within 4 KB, nested deeper than Python's recursion limit
        "deeply nested arrays": "[" * 2000 + "]" * 2000,
        "deeply nested, unclosed": "[" * 4000,
        "deeply nested objects, unclosed": '{"":' * 1000,
    },
)
NOT_OBJECTS = expecting(
    NOT_OBJECT,
    {
        "array": '["subscribe", "user-1"]',
        "number": "1",
        "huge number": "1e999",
        "NaN": "NaN",
        "string": '"user-1"',
        "null": "null",
        "true": "true",
    },
)
UNKNOWN_MESSAGES = expecting(
    UNKNOWN,
    {
        "empty object": "{}",
        "another type": '{"type": "ping"}',
        "unsubscribe": '{"unsubscribe": "user-1"}',
        "subscribe to a number": '{"subscribe": 5}',
        "subscribe to null": '{"subscribe": null}',
        "subscribe to a list": '{"subscribe": ["user-1"]}',
        "subscribe to an object": '{"subscribe": {"group": "user-1"}}',
        "Subscribe, capitalised": '{"Subscribe": "user-1"}',
    },
)
TOO_LARGE = expecting(
    TOO_BIG,
    {
        "4 KB and one character": "x" * 4097,
        "a subscription past 4 KB": json.dumps({"subscribe": "user-" + "1" * 5000}),
        "1 MB": "[" + "1," * 500_000 + "1]",
        "binary frame": b"\x00\x01\xff",
        "binary JSON": b'{"subscribe": "user-1"}',
    },
)


def foreign_groups(world):
    """Groups of things the acme member may not see, and names that cannot be groups."""
    cluster, globex_project, globex_app, operator_job, other_user = (
        world["cluster"],
        world["globex_project"],
        world["globex_app"],
        world["operator_job"],
        world["other_user"],
    )
    return [
        f"user-{other_user.pk}",
        f"tenant-{globex_project.tenant_id}",
        f"project-{globex_project.pk}",
        f"app-{globex_app.pk}",
        f"job-{operator_job.pk}",
        f"kind-{cluster.pk}.Pod",
        f"nskind-{cluster.pk}.{globex_project.name}.Pod",
        "podlog-not-a-token-of-yours",
        "secret-1",
        "user",
        "user-",
        "USER-1",
        "user-1 ",
        "../user-1",
        "user-1/..",
        "user-" + "1" * 200,
        "job-99999999999999999999",
        "app-99999999999999999999",
        "tenant-99999999999999999999",
        "project-0",
        "nskind-1.a.b.c",
        "nskind-x.acme-web.Pod",
        "kind-99999999999999999999.Pod",
        "user-\x00",
        "user-\ud800",
        "user-١",
        "job-²",
        "",
        " ",
        "-",
        "a" * 90 + "-1",
    ]


def make_world():
    cluster, _acme, globex, acme_project, users = create_two_tenants()
    globex_project = globex.projects.get()
    return {
        "cluster": cluster,
        "member": users["tenant_member"],
        "other_user": users["other_member"],
        "acme_project": acme_project,
        "globex_project": globex_project,
        "globex_app": App.objects.create(
            project=globex_project, name="shop", spec={"image": "nginx:1.27", "replicas": 1}
        ),
        "operator_job": Job.objects.create(
            kind="cluster.refresh", requested_by=mk_user("op-ws", "operator", password=None)
        ),
    }


def talk(user, frames):
    """Connect as the user, send each frame, return what came back for each (or the exception
    or close that took its place), and whether the socket still answers at the end."""

    async def application(scope, receive, send):
        scope = {**scope, "user": user, "cookies": {"django_language": "en"}}
        return await LiveConsumer.as_asgi()(scope, receive, send)

    async def conversation():
        communicator = WebsocketCommunicator(application, "/ws/live/")
        connected, _code = await communicator.connect(timeout=5)
        assert connected
        replies = []
        for frame in frames:
            try:
                key = "bytes" if isinstance(frame, bytes) else "text"
                await communicator.send_input({"type": "websocket.receive", key: frame})  # send_to() refuses ""
                output = await communicator.receive_output(timeout=5)
            except Exception as exc:  # the consumer raised (the socket would close without a reason)
                replies.append(exc)
                break
            replies.append(output)
        # Still open and still answering: a last malformed frame gets its error too.
        alive = False
        if len(replies) == len(frames) and all(
            isinstance(r, dict) and r.get("type") == "websocket.send" for r in replies
        ):
            await communicator.send_to(text_data="still there?")
            alive = NOT_JSON in (await communicator.receive_output(timeout=5)).get("text", "")
        try:
            await communicator.disconnect()
        except Exception:  # the consumer's exception again: the replies say it already
            pass
        return replies, alive

    return async_to_sync(conversation)()


def problems(cases, replies):
    found = []
    # replies stop at the first exception: the missing ones are reported below
    for (label, _frame, expected), reply in zip(cases, replies, strict=False):
        if isinstance(reply, Exception):
            found.append(f"{label}: the consumer raised {type(reply).__name__}: {str(reply)[:200]}")
        elif reply.get("type") != "websocket.send":
            found.append(f"{label}: {reply} instead of an error fragment")
        else:
            text = html.unescape(reply.get("text") or "")
            try:
                text.encode("utf-8")  # what the server does before it sends a text frame
            except UnicodeEncodeError:
                found.append(f"{label}: the reply is not UTF-8 text (it could not be sent)")
            if 'id="live-error"' not in text or expected not in text:
                found.append(f"{label}: {text[:200]!r} does not say {expected!r}")
    if len(replies) < len(cases):
        found.append(f"no reply after {cases[len(replies)][0]!r}")
    return found


def assert_each_answered(user, cases):
    """The user's socket answers every case's frame with its error fragment, and still answers after."""
    replies, alive = talk(user, [frame for _label, frame, _expected in cases])
    found = problems(cases, replies)
    assert not found, "\n".join(found)
    assert alive, "the socket stopped answering"


@pytest.mark.parametrize(
    "cases",
    [MALFORMED, NOT_OBJECTS, UNKNOWN_MESSAGES, TOO_LARGE],
    ids=["malformed", "not-objects", "unknown", "too-large"],
)
def test_bad_frames_get_a_clear_error_and_the_socket_stays_open(cases):
    assert_each_answered(mk_user("ws-frames", password=None), cases)


def test_groups_the_user_may_not_see_are_refused_by_name(monkeypatch):
    world = make_world()
    groups = foreign_groups(world)
    joined = []
    original_join = LiveConsumer._join

    async def recording_join(self, group):
        joined.append(group)
        await original_join(self, group)

    monkeypatch.setattr(LiveConsumer, "_join", recording_join)
    cases = [(f"subscribe {group!r:.60}", json.dumps({"subscribe": group}), REFUSED) for group in groups]
    assert_each_answered(world["member"], cases)
    assert joined == [realtime.user_group(world["member"].pk)], f"joined {joined[1:]}"


def test_a_group_the_user_may_see_is_joined():
    """The refusals above are not the consumer refusing everything: the member's own
    namespace is followed, and its status snapshot comes back at once."""
    world = make_world()
    replies, alive = talk(world["member"], [json.dumps({"subscribe": f"project-{world['acme_project'].pk}"})])
    assert len(replies) == 1 and replies[0]["type"] == "websocket.send", replies
    assert 'id="live-error"' not in replies[0]["text"] and "hx-swap-oob" in replies[0]["text"]
    assert alive
