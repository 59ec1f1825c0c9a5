"""Locust users of bench/load_users.py: operators, tenant members and auditors browsing the
console with 1–3 s of think time. The seeding (load_users.py) writes LOAD_PLAN, a JSON
file with the signed-in sessions, the web processes' addresses and the pages to visit.

    locust -f bench/locustfile.py --headless ...   (load_users.py runs it)
"""

import itertools
import json
import os
import random

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(open(os.environ["LOAD_PLAN"]).read())
_bases = itertools.cycle(PLAN["bases"])  # each user sticks to one web process, as behind a load balancer
_sessions = {role: itertools.cycle(cookies) for role, cookies in PLAN["sessions"].items()}


class ConsoleUser(FastHttpUser):
    abstract = True
    role = ""
    wait_time = between(1, 3)
    host = PLAN["bases"][0]

    def on_start(self):
        self.base = next(_bases)
        self.headers = {
            "Cookie": f"sessionid={next(_sessions[self.role])}; django_language=en",
            "Accept-Language": "en",
        }

    def page(self, url, name, partial=False):
        headers = {**self.headers, "HX-Request": "true"} if partial else self.headers
        with self.client.get(
            self.base + url, name=name, headers=headers, catch_response=True, allow_redirects=False
        ) as response:
            # A redirect here means the session was refused (sent to the sign-in page): an error.
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


def opens(weight, *pages):
    """A task of this weight that opens the pages in turn, each (url, name) or (url, name, partial);
    a list of urls stands for one of them, picked at random on every run."""

    @task(weight)
    def open_pages(user):
        for url, name, *partial in pages:
            user.page(random.choice(url) if isinstance(url, list) else url, name, *partial)

    return open_pages


CLUSTER = f"/clusters/{PLAN['cluster']}"


class Operator(ConsoleUser):
    """Runs the platform: clusters, the resource browser, the operation log."""

    role = "operator"
    weight = 3

    dashboard = opens(2, ("/", "dashboard"))
    clusters = opens(2, ("/clusters/", "cluster list"), (f"{CLUSTER}/", "cluster page"))
    resources = opens(
        4,
        (f"{CLUSTER}/resources/", "resource index"),
        ([f"{CLUSTER}/resources/{kind}/?namespace={namespace}" for kind, namespace in PLAN["lists"]], "resource list"),
        ([f"{CLUSTER}/resources/Pod/?page={page}" for page in (1, 2, 3)], "resource list, partial", True),
        (
            [f"{CLUSTER}/resources/{kind}/{namespace}/{name}/" for kind, namespace, name in PLAN["objects"]],
            "resource page",
        ),
    )
    operation_log = opens(2, ("/oplog/", "operation log"))
    tenants = opens(1, ("/tenants/", "tenant list"))


class TenantMember(ConsoleUser):
    """Works on the tenant's own apps."""

    role = "tenant"
    weight = 5

    apps = opens(3, ("/workloads/", "app list"), (PLAN["apps"], "app page"))
    app_live = opens(1, (PLAN["apps"], "app page, partial", True))
    tenant = opens(1, (f"/tenants/{PLAN['tenant']}/", "tenant page"), (PLAN["namespaces"], "namespace page"))
    notifications = opens(1, ("/notifications/", "notifications"))


class Auditor(ConsoleUser):
    """Filters and pages through the operation log."""

    role = "auditor"
    weight = 2

    @task(3)
    def filter_log(self):
        query = random.choice(PLAN["oplog_filters"])  # a filter, then a later page of the same filter
        self.page(f"/oplog/?{query}", "operation log, filtered")
        self.page(f"/oplog/?{query}&page={random.randint(2, 5)}", "operation log, page n", partial=True)

    search_log = opens(1, ([f"/oplog/?q={word}" for word in PLAN["oplog_words"]], "operation log, search"))
