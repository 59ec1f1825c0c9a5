"""The sandbox cluster: a simulated Kubernetes API server in Python, for the embedded run,
tests and benchmarks. It stands alone like a real API server: it imports nothing of the
console (only the standard library, PyYAML and cryptography), and the console reaches it
only through the kubeconfig it writes.

    cluster = SandboxCluster(nodes=3, clock_speed=1.0).start()
    cluster.kubeconfig_path, cluster.url, cluster.token
    cluster.stop()
"""

from .server import SandboxCluster

__all__ = ["SandboxCluster"]
