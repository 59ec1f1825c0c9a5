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
        self.headers = {"Cookie": f"sessionid={next(_sessions[self.role])}; django_language=en", "Accept-Language": "en"}

    def page(self, url, name, partial=False):
        headers = {**self.headers, "HX-Request": "true"} if partial else self.headers
        with self.client.get(self.base + url, name=name, headers=headers, catch_response=True, allow_redirects=False) as response:
            # A redirect here means the session was refused (sent to the sign-in page): an error.
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


class Operator(ConsoleUser):
    """Runs the platform: clusters, the resource browser, the operation log."""

    role = "operator"
    weight = 3

    @task(2)
    def dashboard(self):
        self.page("/", "dashboard")

    @task(2)
    def clusters(self):
        self.page("/clusters/", "cluster list")
        self.page(f"/clusters/{PLAN['cluster']}/", "cluster page")

    @task(4)
    def resources(self):
        cluster = PLAN["cluster"]
        self.page(f"/clusters/{cluster}/resources/", "resource index")
        kind, namespace = random.choice(PLAN["lists"])
        self.page(f"/clusters/{cluster}/resources/{kind}/?namespace={namespace}", "resource list")
        self.page(f"/clusters/{cluster}/resources/Pod/?page={random.randint(1, 3)}", "resource list, partial", partial=True)
        kind, namespace, name = random.choice(PLAN["objects"])
        self.page(f"/clusters/{cluster}/resources/{kind}/{namespace}/{name}/", "resource page")

    @task(2)
    def operation_log(self):
        self.page("/oplog/", "operation log")

    @task(1)
    def tenants(self):
        self.page("/tenants/", "tenant list")


class TenantMember(ConsoleUser):
    """Works on the tenant's own apps."""

    role = "tenant"
    weight = 5

    @task(3)
    def apps(self):
        self.page("/workloads/", "app list")
        self.page(random.choice(PLAN["apps"]), "app page")

    @task(1)
    def app_live(self):
        self.page(random.choice(PLAN["apps"]), "app page, partial", partial=True)

    @task(1)
    def tenant(self):
        self.page(f"/tenants/{PLAN['tenant']}/", "tenant page")
        self.page(random.choice(PLAN["namespaces"]), "namespace page")

    @task(1)
    def notifications(self):
        self.page("/notifications/", "notifications")


class Auditor(ConsoleUser):
    """Filters and pages through the operation log."""

    role = "auditor"
    weight = 2

    @task(3)
    def filter_log(self):
        query = random.choice(PLAN["oplog_filters"])
        self.page(f"/oplog/?{query}", "operation log, filtered")
        self.page(f"/oplog/?{query}&page={random.randint(2, 5)}", "operation log, page n", partial=True)

    @task(1)
    def search_log(self):
        self.page(f"/oplog/?q={random.choice(PLAN['oplog_words'])}", "operation log, search")
