"""Network policy semantics, pure: may traffic go from one endpoint to another on a port?

Kubernetes NetworkPolicy (networking.k8s.io/v1): a pod selected by no policy of a direction
is open in that direction; a pod selected by at least one is closed except for what one of
them allows (rules are unions, never denials). Peers: podSelector (the policy's namespace),
namespaceSelector, both (pods matching in namespaces matching), ipBlock (cidr minus except).
Ports: number or named container port of the destination pod, endPort, protocol (TCP by
default). policyTypes: as given, else Ingress plus Egress when the policy has egress rules.
Traffic must pass the source pod's egress and the destination pod's ingress.

Calico (crd.projectcalico.org/v1 GlobalNetworkPolicy and NetworkPolicy), as Calico enforces
both kinds together: every policy that selects the endpoint, ordered by `order` (Kubernetes
policies count as order 1000, a missing order as infinity) then name; the first rule that
matches decides (Allow, Deny; Pass and Log go on); selected by some policy but no rule
matched: denied at the end of the tier; selected by none: allowed (the profile).

Without Calico policies this gives exactly the Kubernetes answer. Words are left to the
caller: reasons are (code, policy) pairs.
"""

import ipaddress
import json
import re
from dataclasses import dataclass, field

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
K8S_ORDER = 1000.0


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace and name set) or an address outside the cluster (ip only)."""

    namespace: str = ""
    name: str = ""
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    ip: str = ""
    # container port name -> [(port, protocol)]
    named_ports: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_pod(self):
        return bool(self.name)


def pod_endpoint(pod):
    """An Endpoint for a Pod object."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    named = {}
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") and port.get("containerPort"):
                named.setdefault(port["name"], []).append((port["containerPort"], port.get("protocol") or "TCP"))
    return Endpoint(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        labels=dict(meta.get("labels") or {}),
        ip=(pod.get("status") or {}).get("podIP", ""),
        named_ports=named,
    )


@dataclass
class Decision:
    """One direction's answer. reasons: [(code, policy name)], codes:
    allowed-by (a rule of the policy allowed it), denied-by (a Calico Deny rule),
    not-selected (no policy selects the endpoint: open), default-deny (selected by the
    policies named, none allowed it), not-applicable (outside the cluster: no policy there)."""

    allowed: bool
    reasons: list


@dataclass
class Verdict:
    egress: Decision
    ingress: Decision

    @property
    def allowed(self):
        return self.egress.allowed and self.ingress.allowed


# --- Kubernetes label selectors ----------------------------------------------------------


def matches_label_selector(selector, labels):
    """metav1.LabelSelector: None matches nothing, {} everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


# --- Calico selectors --------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|!=|&&|\|\||!|\(|\)|\{|\}|,)|'(?P<sq>[^']*)'|\"(?P<dq>[^\"]*)\""
    r"|(?P<word>[A-Za-z0-9_./\-]+))"
)


class SelectorSyntaxError(ValueError):
    pass


def _tokens(text):
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SelectorSyntaxError(text[position:])
        if match["op"]:
            tokens.append(("op", match["op"]))
        elif match["sq"] is not None or match["dq"] is not None:
            tokens.append(("str", match["sq"] if match["sq"] is not None else match["dq"]))
        else:
            tokens.append(("word", match["word"]))
        position = match.end()
    return tokens


class _CalicoParser:
    """selector := or; or := and ('||' and)*; and := unary ('&&' unary)*;
    unary := '!' unary | '(' or ')' | all() | global() | has(k) | k op 'v' | k [not] in {..}
    | k contains|starts with|ends with 'v'. Returns a predicate on a label dict."""

    def __init__(self, text):
        self.tokens, self.at = _tokens(text), 0

    def peek(self, offset=0):
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        token = self.peek()
        if token[0] is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise SelectorSyntaxError(f"expected {value or kind}, got {token[1]}")
        self.at += 1
        return token[1]

    def parse(self):
        if not self.tokens:
            return lambda labels: True
        predicate = self.parse_or()
        if self.at != len(self.tokens):
            raise SelectorSyntaxError(f"unexpected {self.peek()[1]}")
        return predicate

    def parse_or(self):
        parts = [self.parse_and()]
        while self.peek() == ("op", "||"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda labels: any(p(labels) for p in parts))

    def parse_and(self):
        parts = [self.parse_unary()]
        while self.peek() == ("op", "&&"):
            self.take()
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else (lambda labels: all(p(labels) for p in parts))

    def parse_unary(self):
        kind, value = self.peek()
        if (kind, value) == ("op", "!"):
            self.take()
            inner = self.parse_unary()
            return lambda labels: not inner(labels)
        if (kind, value) == ("op", "("):
            self.take()
            inner = self.parse_or()
            self.take("op", ")")
            return inner
        if kind == "word" and value in ("all", "global", "has") and self.peek(1) == ("op", "("):
            self.take()
            self.take("op", "(")
            if value == "has":
                key = self.take("word")
                self.take("op", ")")
                return lambda labels: key in labels
            self.take("op", ")")
            return lambda labels: True
        key = self.take("word")
        kind, value = self.peek()
        if (kind, value) in (("op", "=="), ("op", "!=")):
            self.take()
            wanted = self.take("str")
            if value == "==":
                return lambda labels: labels.get(key) == wanted
            return lambda labels: labels.get(key) != wanted
        negate = False
        if (kind, value) == ("word", "not"):
            self.take()
            negate = True
            kind, value = self.peek()
        if (kind, value) == ("word", "in"):
            self.take()
            values = self.parse_set()
            if negate:
                return lambda labels: labels.get(key) not in values
            return lambda labels: key in labels and labels[key] in values
        if negate:
            raise SelectorSyntaxError("expected in after not")
        if (kind, value) == ("word", "contains"):
            self.take()
            part = self.take("str")
            return lambda labels: part in labels.get(key, "\0") if key in labels else False
        if (kind, value) in (("word", "starts"), ("word", "ends")):
            self.take()
            self.take("word", "with")
            part = self.take("str")
            if value == "starts":
                return lambda labels: key in labels and labels[key].startswith(part)
            return lambda labels: key in labels and labels[key].endswith(part)
        raise SelectorSyntaxError(f"expected an operator after {key}")

    def parse_set(self):
        self.take("op", "{")
        values = set()
        while self.peek() != ("op", "}"):
            values.add(self.take("str"))
            if self.peek() == ("op", ","):
                self.take()
        self.take("op", "}")
        return values


_calico_cache = {}


def calico_selector(text):
    """A predicate on labels for a Calico selector expression ('' or None: all())."""
    text = text or ""
    predicate = _calico_cache.get(text)
    if predicate is None:
        predicate = _CalicoParser(text).parse()
        if len(_calico_cache) < 1024:
            _calico_cache[text] = predicate
    return predicate


# --- policies, normalised ------------------------------------------------------------------


@dataclass
class Rule:
    action: str  # Allow, Deny, Pass, Log
    peer: object  # callable(endpoint, namespace_labels) -> bool
    ports: list  # [(protocol or None, port or name, end port or None)]; [] = every port
    protocol: str | None = None  # Calico's rule-level protocol
    # Rules whose peers match the same endpoints have the same key (None: not known to be
    # shared): the Evaluator matches each key once (every tenant's "allow kube-dns" alike).
    key: object = None


@dataclass
class Policy:
    kind: str  # NetworkPolicy, GlobalNetworkPolicy, CalicoNetworkPolicy
    namespace: str
    name: str
    order: float
    selects: object  # callable(endpoint, namespace_labels) -> bool
    types: tuple
    ingress: list
    egress: list

    @property
    def ref(self):
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def sort_key(self):
        return (self.order, self.ref)


def _k8s_peer(policy_namespace, peer):
    ip_block = peer.get("ipBlock")
    if ip_block:
        network = ipaddress.ip_network(ip_block["cidr"], strict=False)
        excepted = [ipaddress.ip_network(c, strict=False) for c in ip_block.get("except") or []]

        def in_block(endpoint, ns_labels):
            if not endpoint.ip:
                return False
            try:
                address = ipaddress.ip_address(endpoint.ip)
            except ValueError:
                return False
            if address.version != network.version or address not in network:
                return False
            return not any(address.version == e.version and address in e for e in excepted)

        return in_block
    pod_selector, namespace_selector = peer.get("podSelector"), peer.get("namespaceSelector")

    def matches(endpoint, ns_labels):
        if not endpoint.is_pod:
            return False
        if namespace_selector is None:
            if endpoint.namespace != policy_namespace:
                return False
        elif not matches_label_selector(namespace_selector, ns_labels):
            return False
        return pod_selector is None or matches_label_selector(pod_selector, endpoint.labels)

    return matches


def _k8s_ports(ports):
    return [(p.get("protocol") or "TCP", p.get("port"), p.get("endPort")) for p in ports or [] if isinstance(p, dict)]


def _k8s_rules(policy_namespace, rules, peers_key):
    normalised = []
    for rule in rules or []:
        peers = rule.get(peers_key) or []
        if peers:
            matchers = [_k8s_peer(policy_namespace, peer) for peer in peers]

            def peer(endpoint, ns_labels, matchers=matchers):
                return any(m(endpoint, ns_labels) for m in matchers)
        else:

            def peer(endpoint, ns_labels):
                return True

        # a peer without a namespaceSelector means the policy's own namespace
        own = any(isinstance(p, dict) and "namespaceSelector" not in p and "ipBlock" not in p for p in peers)
        key = ("k8s", policy_namespace if own else "", json.dumps(peers, sort_keys=True, default=str))
        normalised.append(Rule("Allow", peer, _k8s_ports(rule.get("ports")), key=key))
    return normalised


def from_network_policy(obj):
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    namespace = meta.get("namespace", "")
    types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    pod_selector = spec.get("podSelector") or {}

    def selects(endpoint, ns_labels):
        return (
            endpoint.is_pod
            and endpoint.namespace == namespace
            and matches_label_selector(pod_selector, endpoint.labels)
        )

    return Policy(
        "NetworkPolicy",
        namespace,
        meta.get("name", ""),
        K8S_ORDER,
        selects,
        tuple(types),
        _k8s_rules(namespace, spec.get("ingress"), "from"),
        _k8s_rules(namespace, spec.get("egress"), "to"),
    )


def _calico_entity(policy_namespace, entity, is_global):
    """A Calico rule's source or destination: selector, namespaceSelector, nets, notNets."""
    entity = entity or {}
    selector = calico_selector(entity["selector"]) if "selector" in entity else None
    namespace_selector = calico_selector(entity["namespaceSelector"]) if "namespaceSelector" in entity else None
    nets = [ipaddress.ip_network(n, strict=False) for n in entity.get("nets") or []]
    not_nets = [ipaddress.ip_network(n, strict=False) for n in entity.get("notNets") or []]

    def in_nets(endpoint, networks):
        try:
            address = ipaddress.ip_address(endpoint.ip)
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in networks)

    def matches(endpoint, ns_labels):
        if nets and not in_nets(endpoint, nets):
            return False
        if not_nets and endpoint.ip and in_nets(endpoint, not_nets):
            return False
        if selector is not None or namespace_selector is not None:
            if not endpoint.is_pod:
                return False
            if namespace_selector is not None:
                if not namespace_selector(ns_labels):
                    return False
            elif not is_global and endpoint.namespace != policy_namespace:
                return False
            if selector is not None and not selector(endpoint.labels):
                return False
        return True

    return matches, [(None, p, None) for p in entity.get("ports") or []]


def _calico_rules(policy_namespace, rules, side, is_global):
    normalised = []
    for rule in rules or []:
        peer, ports = _calico_entity(policy_namespace, rule.get(side), is_global)
        # The other side of a rule may narrow too (an ingress rule's destination ports).
        other = "destination" if side == "source" else "source"
        own, own_ports = _calico_entity(policy_namespace, rule.get(other), is_global)
        protocol = rule.get("protocol")
        normalised.append(
            Rule(
                rule.get("action", "Allow"),
                (peer, own),
                ports if side == "destination" else own_ports,  # the destination's ports
                protocol if isinstance(protocol, str) else None,
            )
        )
    return normalised


def from_calico_policy(obj):
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    is_global = obj.get("kind") == "GlobalNetworkPolicy"
    namespace = "" if is_global else meta.get("namespace", "")
    selector = calico_selector(spec.get("selector"))
    namespace_selector = calico_selector(spec["namespaceSelector"]) if spec.get("namespaceSelector") else None
    types = spec.get("types") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    order = spec.get("order")

    def selects(endpoint, ns_labels):
        if not endpoint.is_pod:
            return False
        if not is_global and endpoint.namespace != namespace:
            return False
        if namespace_selector is not None and not namespace_selector(ns_labels):
            return False
        return selector(endpoint.labels)

    return Policy(
        "GlobalNetworkPolicy" if is_global else "CalicoNetworkPolicy",
        namespace,
        meta.get("name", ""),
        float(order) if order is not None else float("inf"),
        selects,
        tuple(types),
        _calico_rules(namespace, spec.get("ingress"), "source", is_global),
        _calico_rules(namespace, spec.get("egress"), "destination", is_global),
    )


def load_policies(network_policies=(), calico_policies=()):
    """Normalised policies from Kubernetes NetworkPolicy and Calico policy objects."""
    policies = [from_network_policy(p) for p in network_policies]
    policies += [from_calico_policy(p) for p in calico_policies]
    return sorted(policies, key=lambda p: p.sort_key)


# --- evaluation ----------------------------------------------------------------------------


def _port_matches(ports, port, protocol, destination):
    """port None: any port (does the rule allow some port?)."""
    if not ports or port is None:
        return True
    for rule_protocol, rule_port, end_port in ports:
        if rule_protocol and rule_protocol != protocol:
            continue
        if rule_port is None:
            return True
        if isinstance(rule_port, str) and not rule_port.isdigit():
            if ":" in rule_port:  # Calico ranges "8000:8100"
                low, _sep, high = rule_port.partition(":")
                if low.isdigit() and high.isdigit() and int(low) <= port <= int(high):
                    return True
                continue
            if (port, protocol) in destination.named_ports.get(rule_port, ()):
                return True
            continue
        low = int(rule_port)
        if low == port or (end_port and low <= port <= int(end_port)):
            return True
    return False


def _decide(policies, direction, subject, peer, port, protocol, destination, namespaces):
    """Ingress: subject is the destination, peer the source; egress the other way round."""
    if not subject.is_pod:
        return Decision(True, [("not-applicable", "")])
    subject_ns = namespaces.get(subject.namespace, {})
    applying = [p for p in policies if direction in p.types and p.selects(subject, subject_ns)]
    return _first_match(applying, direction, subject, peer, port, protocol, destination, namespaces)


def _first_match(applying, direction, subject, peer, port, protocol, destination, namespaces):
    """The decision of the policies that select the subject (in order), as Calico takes them."""
    if not applying:
        return Decision(True, [("not-selected", "")])
    subject_ns = namespaces.get(subject.namespace, {})
    peer_ns = namespaces.get(peer.namespace, {}) if peer.is_pod else {}
    for policy in applying:
        for rule in policy.ingress if direction == "Ingress" else policy.egress:
            if rule.protocol and rule.protocol != protocol:
                continue
            if isinstance(rule.peer, tuple):  # Calico: (the peer's side, this endpoint's side)
                peer_match, own_match = rule.peer
                if not (peer_match(peer, peer_ns) and own_match(subject, subject_ns)):
                    continue
            elif not rule.peer(peer, peer_ns):
                continue
            if not _port_matches(rule.ports, port, protocol, destination):
                continue
            if rule.action == "Allow":
                return Decision(True, [("allowed-by", policy.ref)])
            if rule.action == "Deny":
                return Decision(False, [("denied-by", policy.ref)])
            if rule.action == "Pass":
                return Decision(True, [("passed-by", policy.ref)])
    return Decision(False, [("default-deny", p.ref) for p in applying])


def with_default_labels(namespaces):
    """Namespace labels as the API server keeps them: kubernetes.io/metadata.name is always set."""
    return {name: {**(labels or {}), NAMESPACE_NAME_LABEL: name} for name, labels in namespaces.items()}


def can_reach(source, destination, port, *, policies, namespaces, protocol="TCP"):
    """May `source` open a connection to `destination` on `port`? policies from
    load_policies, namespaces {name: labels} (with_default_labels applied)."""
    egress = _decide(policies, "Egress", source, destination, port, protocol, destination, namespaces)
    ingress = _decide(policies, "Ingress", destination, source, port, protocol, destination, namespaces)
    return Verdict(egress, ingress)


# --- many pairs at once --------------------------------------------------------------------


def _distinct(rules):
    """The rules with distinct peers, and each rule's position among them (by id)."""
    first, positions, distinct = {}, {}, []
    for rule in rules:
        key = rule.key if rule.key is not None else ("rule", id(rule))
        if key not in first:
            first[key] = len(distinct)
            distinct.append(rule)
        positions[id(rule)] = first[key]
    return distinct, positions


def _peer_match(rule, endpoint, ns_labels):
    return (rule.peer[0] if isinstance(rule.peer, tuple) else rule.peer)(endpoint, ns_labels)


class Evaluator:
    """can_reach for every pair of many sources and destinations, evaluated per selector class
    rather than per pair. Two endpoints are in one class when the same policies select them and
    every rule that could decide matches both or neither; every member of a source class reaches
    every member of a destination class alike (same answer, same reasons), so each pair of
    classes is decided once, on a representative of each. Exactly can_reach's answers."""

    def __init__(self, policies, namespaces):
        self.policies, self.namespaces = policies, namespaces
        # A namespaced policy selects its own namespace's pods only; cluster-wide ones any.
        self.by_namespace, self.cluster_wide = {}, []
        for index, policy in enumerate(policies):
            if policy.kind == "GlobalNetworkPolicy":
                self.cluster_wide.append(index)
            else:
                self.by_namespace.setdefault(policy.namespace, []).append(index)
        self._applying = {}

    def applying(self, direction, endpoint):
        """Indices of the policies of `direction` that select the endpoint, in order."""
        if not endpoint.is_pod:
            return ()
        key = (direction, endpoint.namespace, tuple(sorted(endpoint.labels.items())))
        found = self._applying.get(key)
        if found is None:
            ns_labels = self.namespaces.get(endpoint.namespace, {})
            found = tuple(
                index
                for index in sorted(self.by_namespace.get(endpoint.namespace, []) + self.cluster_wide)
                if direction in self.policies[index].types and self.policies[index].selects(endpoint, ns_labels)
            )
            self._applying[key] = found
        return found

    def _rules(self, direction, policy_sets):
        rules, seen = [], set()
        for indices in policy_sets:
            for index in indices:
                if index not in seen:
                    seen.add(index)
                    policy = self.policies[index]
                    rules += policy.ingress if direction == "Ingress" else policy.egress
        return rules

    def classes(self, sources, destinations, ports):
        """Group the endpoints: ({source class key: [source indices]}, {destination class key:
        [destination indices]}); `ports[i]` is the port asked of destination i (None: any)."""
        in_rules = self._rules("Ingress", {self.applying("Ingress", d) for d in destinations})
        out_rules = self._rules("Egress", {self.applying("Egress", s) for s in sources})
        in_peers, in_positions = _distinct(in_rules)
        out_peers, out_positions = _distinct(out_rules)
        in_calico = [r for r in in_rules if isinstance(r.peer, tuple)]
        out_calico = [r for r in out_rules if isinstance(r.peer, tuple)]
        self._positions = {
            "Ingress": (in_positions, {id(r): i for i, r in enumerate(in_calico)}),
            "Egress": (out_positions, {id(r): i for i, r in enumerate(out_calico)}),
        }
        self._decided = {}
        self._bits, interned = [], {}

        def intern(bits):  # a signature's bits as a small number: cheap to hash in the keys below
            number = interned.get(bits)
            if number is None:
                number = interned[bits] = len(self._bits)
                self._bits.append(bits)
            return number

        def signature(endpoint, peer_rules, own_rules):
            ns_labels = self.namespaces.get(endpoint.namespace, {}) if endpoint.is_pod else {}
            as_peer = tuple(_peer_match(rule, endpoint, ns_labels) for rule in peer_rules)
            as_own = tuple(rule.peer[1](endpoint, ns_labels) for rule in own_rules)
            return intern(as_peer), intern(as_own), endpoint.is_pod, endpoint.ip if not endpoint.is_pod else ""

        source_classes, destination_classes = {}, {}
        for index, source in enumerate(sources):
            key = (self.applying("Egress", source), signature(source, in_peers, out_calico))
            source_classes.setdefault(key, []).append(index)
        for index, destination in enumerate(destinations):
            named = tuple(sorted((k, tuple(v)) for k, v in destination.named_ports.items()))
            key = (
                self.applying("Ingress", destination),
                signature(destination, out_peers, in_calico),
                named,
                ports[index],
            )
            destination_classes.setdefault(key, []).append(index)
        return source_classes, destination_classes

    def class_verdict(self, source_key, destination_key, destination, protocol="TCP"):
        """The verdict between two classes of classes(), decided from their signatures alone
        (no selector is evaluated again); `destination` is any member of its class."""
        applying_out, (in_bits, out_own, source_is_pod, _ip) = source_key
        applying_in, (out_bits, in_own, destination_is_pod, _dip), named, port = destination_key
        egress = self._by_signature(
            "Egress", applying_out, source_is_pod, out_bits, out_own, port, protocol, destination, named
        )
        ingress = self._by_signature(
            "Ingress", applying_in, destination_is_pod, in_bits, in_own, port, protocol, destination, named
        )
        return Verdict(egress, ingress)

    def _by_signature(self, direction, applying, subject_is_pod, peer_bits, own_bits, port, protocol, dest, named):
        key = (direction, applying, subject_is_pod, peer_bits, own_bits, port, protocol, named)
        decision = self._decided.get(key)
        if decision is not None:
            return decision
        positions, own_positions = self._positions[direction]
        peer_bits, own_bits = self._bits[peer_bits], self._bits[own_bits]
        decision = Decision(True, [("not-applicable", "")] if not subject_is_pod else [("not-selected", "")])
        if subject_is_pod and applying:
            decision = None
            for index in applying:
                policy = self.policies[index]
                for rule in policy.ingress if direction == "Ingress" else policy.egress:
                    if rule.protocol and rule.protocol != protocol:
                        continue
                    if not peer_bits[positions[id(rule)]]:
                        continue
                    if isinstance(rule.peer, tuple) and not own_bits[own_positions[id(rule)]]:
                        continue
                    if not _port_matches(rule.ports, port, protocol, dest):
                        continue
                    code = {"Allow": "allowed-by", "Deny": "denied-by", "Pass": "passed-by"}.get(rule.action)
                    if code:
                        decision = Decision(rule.action != "Deny", [(code, policy.ref)])
                        break
                if decision is not None:
                    break
            if decision is None:
                decision = self._decided.get(applying)  # the same policies' default deny: one Decision
                if decision is None:
                    decision = Decision(False, [("default-deny", self.policies[i].ref) for i in applying])
                    self._decided[applying] = decision
        self._decided[key] = decision
        return decision

    def verdict(self, source, destination, port, protocol="TCP"):
        """can_reach(source, destination, port), with the selecting policies found once per class."""
        egress = (
            _first_match(
                [self.policies[i] for i in self.applying("Egress", source)],
                "Egress",
                source,
                destination,
                port,
                protocol,
                destination,
                self.namespaces,
            )
            if source.is_pod
            else Decision(True, [("not-applicable", "")])
        )
        ingress = (
            _first_match(
                [self.policies[i] for i in self.applying("Ingress", destination)],
                "Ingress",
                destination,
                source,
                port,
                protocol,
                destination,
                self.namespaces,
            )
            if destination.is_pod
            else Decision(True, [("not-applicable", "")])
        )
        return Verdict(egress, ingress)
