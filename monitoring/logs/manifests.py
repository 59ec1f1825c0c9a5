"""The collectors the console ships: a fluentd DaemonSet (tail container and component logs,
kubernetes_metadata enrichment, out_http to the console with the cluster's token), and the
same with Fluent Bit as a lighter alternative."""

import json

TOKEN_PLACEHOLDER = "REPLACE-WITH-THE-CLUSTER-INGEST-TOKEN"
NAMESPACE = "caas-logging"
FLUENTD_IMAGE = "fluent/fluentd-kubernetes-daemonset:v1.17-debian-forward-1"
FLUENT_BIT_IMAGE = "cr.fluentbit.io/fluent/fluent-bit:3.1"

FLUENT_CONF = """\
# Container logs: the kubelet's files, CRI format (containerd, CRI-O).
<source>
  @type tail
  @id containers
  path /var/log/containers/*.log
  pos_file /var/log/caas-fluentd-containers.pos
  tag kubernetes.*
  read_from_head false
  <parse>
    @type cri
  </parse>
</source>
# Component logs: the control plane and node services that write files (kube-apiserver,
# etcd, kubelet via journald is read by the systemd input when the image carries it).
<source>
  @type tail
  @id components
  path /var/log/kube-*.log,/var/log/etcd.log,/var/log/calico/*/current
  pos_file /var/log/caas-fluentd-components.pos
  tag component.*
  <parse>
    @type none
    message_key message
  </parse>
</source>
<filter kubernetes.**>
  @type kubernetes_metadata
  skip_master_url true
  skip_container_metadata true
</filter>
<filter component.**>
  @type record_transformer
  <record>
    component ${tag_parts[-2]}
    host "#{ENV['K8S_NODE_NAME']}"
  </record>
</filter>
<match **>
  @type http
  endpoint "#{ENV['CAAS_INGEST_URL']}"
  http_method post
  json_array true
  headers {"Authorization": "Bearer #{ENV['CAAS_INGEST_TOKEN']}"}
  compress gzip
  retryable_response_codes [429, 500, 502, 503, 504]
  <format>
    @type json
  </format>
  <inject>
    time_key time
    time_type string
    time_format %Y-%m-%dT%H:%M:%S.%NZ
    utc true
  </inject>
  <buffer>
    @type file
    path /var/log/caas-fluentd-buffer
    flush_interval 1s
    chunk_limit_size 4m
    total_limit_size 512m
    retry_max_interval 30s
    retry_forever true
    overflow_action block
  </buffer>
</match>
"""

FLUENT_BIT_CONF = """\
[SERVICE]
    flush        1
    parsers_file parsers.conf
[INPUT]
    name              tail
    path              /var/log/containers/*.log
    tag               kube.*
    multiline.parser  cri
    mem_buf_limit     64MB
[FILTER]
    name       kubernetes
    match      kube.*
    merge_log  off
    labels     on
[OUTPUT]
    name         http
    match        *
    host         {host}
    port         {port}
    uri          {path}
    tls          {tls}
    format       json
    json_date_key time
    json_date_format iso8601
    compress     gzip
    header       Authorization Bearer ${{CAAS_INGEST_TOKEN}}
    retry_limit  false
"""


def _configmap(name, data):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": data,
    }


def _rbac(name):
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NAMESPACE}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"caas-{name}"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"caas-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"caas-{name}"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
        },
    ]


def _daemonset(name, image, config_name, config_path, env):
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "serviceAccountName": name,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "200Mi"},
                                "limits": {"memory": "500Mi"},
                            },
                            "volumeMounts": [
                                {"name": "varlog", "mountPath": "/var/log"},
                                {"name": "config", "mountPath": config_path},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "varlog", "hostPath": {"path": "/var/log"}},
                        {"name": "config", "configMap": {"name": config_name}},
                    ],
                },
            },
        },
    }


def _secret(token):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "caas-ingest-token", "namespace": NAMESPACE},
        "type": "Opaque",
        "stringData": {"token": token},
    }


def _yaml(objects):
    # JSON is YAML: one document per object, no YAML library quirks in what operators apply.
    return "\n---\n".join(json.dumps(obj, indent=2) for obj in objects) + "\n"


def fluentd_objects(cluster, *, ingest_url, token):
    env = [
        {"name": "CAAS_INGEST_URL", "value": ingest_url},
        {"name": "CAAS_CLUSTER", "value": cluster.name},
        {"name": "CAAS_INGEST_TOKEN", "valueFrom": {"secretKeyRef": {"name": "caas-ingest-token", "key": "token"}}},
        {"name": "K8S_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "FLUENTD_CONF", "value": "fluent.conf"},
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        _secret(token),
        *_rbac("fluentd"),
        _configmap("caas-fluentd", {"fluent.conf": FLUENT_CONF}),
        _daemonset("fluentd", FLUENTD_IMAGE, "caas-fluentd", "/fluentd/etc", env),
    ]


def fluentd(cluster, *, ingest_url, token):
    return _yaml(fluentd_objects(cluster, ingest_url=ingest_url, token=token))


def fluent_bit(cluster, *, ingest_url, token):
    from urllib.parse import urlsplit

    url = urlsplit(ingest_url)
    conf = FLUENT_BIT_CONF.format(
        host=url.hostname,
        port=url.port or (443 if url.scheme == "https" else 80),
        path=url.path,
        tls="on" if url.scheme == "https" else "off",
    )
    env = [{"name": "CAAS_INGEST_TOKEN", "valueFrom": {"secretKeyRef": {"name": "caas-ingest-token", "key": "token"}}}]
    return _yaml(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            _secret(token),
            *_rbac("fluent-bit"),
            _configmap("caas-fluent-bit", {"fluent-bit.conf": conf}),
            _daemonset("fluent-bit", FLUENT_BIT_IMAGE, "caas-fluent-bit", "/fluent-bit/etc", env),
        ]
    )
