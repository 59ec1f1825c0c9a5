"""The sandbox cluster: a simulated Kubernetes API server in Python, for the embedded run,
tests and benchmarks. It stands alone like a real API server: it imports nothing of the
console (only the standard library, PyYAML and cryptography), and the console reaches it
only through the kubeconfig it writes.

    cluster = SandboxCluster(nodes=3, clock_speed=1.0).start()
    cluster.kubeconfig_path, cluster.url, cluster.token
    cluster.stop()

Requests are authorised by RBAC (rbac.py) as on a real cluster: the admin token is in
system:masters, the read-only token in sandbox:viewers, the no-access token bound to nothing;
add_token(name, groups) makes more. Impersonation (Impersonate-User/-Group) needs the
`impersonate` verb; cluster.audit_events() names who sent each request and whom it acted as.
SandboxCluster(calico=True) or cluster.set_calico(True) installs Calico's CRDs.
pods/exec and pods/attach speak websocket (v5/v4.channel.k8s.io, websocket.py) to a simulated
shell in a fake container (remotecommand.py, shell.py): `kubectl exec -it pod -- sh` works.
PVCs of the seeded `ceph-rbd` StorageClass are provisioned, grown and snapshotted as ceph-csi does
(ceph.py): on real RBD images with SandboxCluster(ceph=CephOptions(conf, keyring, client)) or the
SANDBOX_CEPH_CONF/_KEYRING/_CLIENT variables, on simulated ones otherwise.
"""

from .ceph import CephOptions
from .server import SandboxCluster

__all__ = ["CephOptions", "SandboxCluster"]
