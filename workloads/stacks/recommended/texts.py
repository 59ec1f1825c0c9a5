"""The recommended templates' descriptions (theirs and their parameters'), for the
translation catalogue: the YAML files keep the English, pages show it in the reader's
language (Template.shown_description, render.parameters_of). A test keeps this list and
the files in step."""

from django.utils.translation import gettext_noop

TEXTS = [
    gettext_noop(
        "A PostgreSQL StatefulSet on the Ceph RBD StorageClass, its data volume annotated with its backup policy (caas.io/backup-policy: daily, weekly or none)."
    ),
    gettext_noop("Name of the database server"),
    gettext_noop("PostgreSQL image"),
    gettext_noop("Size of the data volume"),
    gettext_noop("Existing Secret (key POSTGRES_PASSWORD) in the namespace; never stored in the template"),
    gettext_noop("Backup policy of the data volume"),
    gettext_noop("A single Redis server with its configuration in a ConfigMap and a ClusterIP Service."),
    gettext_noop("Name of the server and its Service"),
    gettext_noop("Redis image"),
    gettext_noop("Redis maxmemory setting"),
    gettext_noop("Memory limit of the pod"),
    gettext_noop(
        "A three-tier demo: a web front end behind an Ingress, an API with an autoscaler, and a cache only the API may reach (NetworkPolicy)."
    ),
    gettext_noop("Prefix of every object name"),
    gettext_noop("Domain of the front end"),
    gettext_noop("Front-end image"),
    gettext_noop("API image"),
    gettext_noop("API pods at the start"),
    gettext_noop("Most API pods the autoscaler starts"),
    gettext_noop("API log level"),
    gettext_noop("A stateless web app behind a Service and an Ingress (one domain, one path)."),
    gettext_noop("Name of the app, its Service and Ingress"),
    gettext_noop("Container image"),
    gettext_noop("Number of pods"),
    gettext_noop("Port the container listens on"),
    gettext_noop("Domain of the Ingress"),
    gettext_noop("CPU request per pod"),
    gettext_noop("Memory request per pod"),
]
