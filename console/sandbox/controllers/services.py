"""Services → Endpoints (ready and not-ready addresses, named target ports), LoadBalancer
addresses (as MetalLB assigns them) and Ingress addresses (as ingress-nginx reports them)."""

import hashlib

from ..errors import ApiError
from ..kinds import STORED
from ..selectors import selector_matcher
from .context import Controller, Key
from .helpers import pod_active, pod_ready

R = STORED


def has_address(obj: dict) -> bool:
    return bool(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"))


def endpoint_ports(spec: dict, sample: dict | None) -> list[dict]:
    """The Service's ports with named target ports resolved on a sample pod."""
    ports = []
    for port in spec.get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and sample:
            target = next(
                (
                    p.get("containerPort")
                    for c in (sample.get("spec") or {}).get("containers") or []
                    for p in c.get("ports") or []
                    if p.get("name") == target
                ),
                target,
            )
        entry = {
            "port": target if isinstance(target, int) else port.get("port"),
            "protocol": port.get("protocol", "TCP"),
        }
        if port.get("name"):
            entry["name"] = port["name"]
        ports.append(entry)
    return ports


class Services(Controller):
    def sync(self, key: Key) -> None:
        svc = self.ctx.get(key)
        if svc is None:
            if self.store.exists(R["endpoints"], key[1], key[2]):
                try:
                    self.store.delete(R["endpoints"], key[1], key[2])
                except ApiError:
                    pass
            return
        if (
            (svc.get("spec") or {}).get("type") == "LoadBalancer"
            and not has_address(svc)
            and not self.ctx.waiting(key, "lb", svc["metadata"]["uid"], "lb")
        ):
            octet = 100 + int(hashlib.md5(svc["metadata"]["uid"].encode()).hexdigest()[:2], 16) % 150
            self.store.update(
                R["services"],
                key[1],
                key[2],
                {"status": {"loadBalancer": {"ingress": [{"ip": f"172.18.255.{octet}", "ipMode": "VIP"}]}}},
                status_only=True,
            )
            self.ctx.event(svc, "IPAllocated", f'Assigned IP ["172.18.255.{octet}"]', "Normal", "metallb-controller")
        self.sync_endpoints_for(svc)

    def sync_endpoints(self, key: Key) -> None:
        for svc in self.store.iter_refs(R["services"], key[1]):
            self.sync_endpoints_for(svc)

    def sync_endpoints_for(self, svc: dict) -> None:
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            return
        namespace, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        match = selector_matcher({"matchLabels": selector})
        ready, not_ready = [], []
        pods = [p for p in self.store.iter_refs(R["pods"], namespace) if match(p["metadata"].get("labels"))]
        for pod in sorted(pods, key=lambda p: (p.get("status") or {}).get("podIP") or ""):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or not pod_active(pod):
                continue
            address = {
                "ip": ip,
                "nodeName": (pod.get("spec") or {}).get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            (ready if pod_ready(pod) else not_ready).append(address)
        subsets = []
        if ready or not_ready:
            subset = {"ports": endpoint_ports(spec, pods[0] if pods else None)}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subsets.append(subset)
        body = {"metadata": {"name": name, "labels": dict(svc["metadata"].get("labels") or {})}, "subsets": subsets}
        current = self.store.get_ref(R["endpoints"], namespace, name)
        if current is None:
            try:
                self.store.create(R["endpoints"], namespace, body)
            except ApiError:
                pass
        elif current.get("subsets", []) != subsets:

            def change(obj):
                obj["subsets"] = subsets

            self.store.mutate(R["endpoints"], namespace, name, change)

    def sync_ingress(self, key: Key) -> None:
        ing = self.ctx.get(key)
        if ing is None or has_address(ing) or self.ctx.waiting(key, "lb", ing["metadata"]["uid"], "lb"):
            return
        self.store.update(
            R["ingresses"],
            key[1],
            key[2],
            {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.11"}]}}},
            status_only=True,
        )
        self.ctx.event(ing, "Sync", "Scheduled for sync", "Normal", "nginx-ingress-controller")
