"""The demo data of the embedded run, made by `manage.py seed_demo` (which `manage.py up` runs).

The core makes the platform's demo users; each feature app adds the demo data of its own with
`register_step` in its AppConfig.ready(), so the core names no feature app. A step makes its
data the way a person would, with its app's services (operation log included), and only
what is missing: running the command again changes nothing. What needs the worker's work
first (an app needs its namespace provisioned) waits in `when_ready`; `settle` does it once
ready, at the end of the command, or in the background while `manage.py up` serves. What a
fresh sandbox cluster lost at a restart is not seeding's business: the apps listening to
`embedded_cluster_attached` put it back."""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from console.choices import PlatformRole
from console.clusters.models import Cluster


@dataclass(frozen=True)
class Later:
    what: str  # what is waited for, as the person reads it ("namespace demo-shop")
    ready: Callable[[], bool]
    then: Callable[[], None]


@dataclass
class Demo:
    """What the steps of one run share."""

    say: Callable[..., None]  # say(text, success=False): a line for the person who started the run
    cluster: Cluster | None = None  # where the demo tenants live; None: the platform's users only
    wait_seconds: float = 0.0  # how long each piece of work in `later` may wait to be ready
    operator: Any = None  # the demo's operator, for the steps that need one to act
    users: dict[str, Any] = field(default_factory=dict)  # the demo users, by name
    # What this run made, by "<kind>:<name>" (e.g. "namespace:demo-shop"), for the steps after:
    # data is added to what is new, never again to what people have since changed.
    created: dict[str, Any] = field(default_factory=dict)
    later: list[Later] = field(default_factory=list)

    def user(self, username: str, described: str, **fields: Any) -> Any:
        """The demo user, made with a generated password, printed this once."""
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username=username, password=password, **fields)
            self.say(f"created demo user {username!r} ({described}) with password: {password}", success=True)
        else:
            self.say(f"demo user {username!r} exists (its password was printed when it was created)")
        self.users[username] = user
        return user

    def when_ready(self, what: str, ready: Callable[[], bool], then: Callable[[], None]) -> None:
        """Do `then()` once `ready()` holds (the worker did its part), in `settle`."""
        self.later.append(Later(what, ready, then))

    def wait_for(self, ready: Callable[[], bool], what: str) -> bool:
        """Whether `ready()` came true within `wait_seconds` (asked every quarter second)."""
        deadline = time.monotonic() + self.wait_seconds
        while not ready():
            if time.monotonic() >= deadline:
                self.say(f"{what} was not ready within {self.wait_seconds:g} s: the demo goes on without it")
                return False
            time.sleep(0.25)
        return True


@dataclass(frozen=True)
class Step:
    key: str
    seed: Callable[[Demo], None]
    order: int


_steps: dict[str, Step] = {}


def register_step(key: str, seed: Callable[[Demo], None], *, order: int = 50) -> None:
    """Add `seed(demo)` to the demo; steps run by ascending `order` (the core's users come first, at 0)."""
    _steps[key] = Step(key, seed, order)


def seed(demo: Demo) -> None:
    """Run every step; what waits for the worker is left in `demo.later` for `settle`."""
    for step in sorted(_steps.values(), key=lambda s: (s.order, s.key)):
        _refusal_said(demo, step.key, step.seed, demo)


def settle(demo: Demo) -> None:
    """Do the work left for later, in order, each once it is ready (or say that it was not);
    the work done may leave more."""
    while demo.later:
        later = demo.later.pop(0)
        if demo.wait_for(later.ready, later.what):
            _refusal_said(demo, later.what, later.then)


def _refusal_said(demo: Demo, what: str, do: Callable[..., None], *args: Any) -> None:
    """Do it; one part that the rules refuse is reported, and the demo goes on without it."""
    try:
        do(*args)
    except (ValidationError, PermissionError) as exc:
        demo.say(f"the demo's {what} was refused: {' '.join(getattr(exc, 'messages', [str(exc)]))}")


PLATFORM_USERS = [
    ("operator", PlatformRole.OPERATOR, "Platform operator"),
    ("auditor", PlatformRole.AUDITOR, "Auditor"),
]


def seed_platform_users(demo: Demo) -> None:
    for username, role, first_name in PLATFORM_USERS:
        demo.user(username, role, platform_role=role, first_name=first_name)
    demo.operator = demo.users["operator"]


register_step("platform_users", seed_platform_users, order=0)
