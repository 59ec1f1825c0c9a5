"""Controllers on a clock: the scheduler and kubelet, Deployments → ReplicaSets → Pods,
StatefulSets, DaemonSets, Jobs, CronJobs, Services → Endpoints, PVC provisioning and
snapshots, HPAs, quotas, disruption budgets, namespaces and events.

Simulated time runs `clock_speed` times faster than real time; every delay is in
simulated seconds. runner.py drives the work queue; registry.py says which family
handles each kind; context.py is what they share."""

from .context import DEFAULT_DELAYS, Clock, Context
from .runner import Controllers

__all__ = ["DEFAULT_DELAYS", "Clock", "Context", "Controllers"]
