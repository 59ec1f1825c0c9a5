"""Extract a template from a selection on the topology page: the selected nodes' ids go to the
extract flow (?objects=...), which takes each selected app with what goes with it and each
other selected object as it is, nothing else of the namespace."""

import pytest
import yaml
from django.core.exceptions import ValidationError

from workloads.stacks import services
from workloads.stacks.models import Template

from .test_extract import running_api

pytestmark = pytest.mark.django_db


def kinds_and_names(template):
    return sorted((o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(template.latest().manifests))


def test_a_selection_becomes_a_template(cluster, project, dev, client):
    running_api(cluster, project, dev)
    ns = project.name
    selection = f"Deployment/{ns}/api,ConfigMap/{ns}/unrelated,Pod/{ns}/api-1234,Secret/{ns}/api-credentials"
    template = services.extract_template(project, acting_user=dev, name="picked", objects=selection)
    assert kinds_and_names(template) == [  # the app with what goes with it, the ConfigMap picked, no Pod or Secret
        ("ConfigMap", "api-config"),
        ("ConfigMap", "unrelated"),
        ("Deployment", "api"),
        ("HorizontalPodAutoscaler", "api"),
        ("Ingress", "api"),
        ("Service", "api"),
    ]
    assert "(Deployment/api, ConfigMap/unrelated)" in template.description
    only_config = services.extract_template(
        project, acting_user=dev, name="config", objects=f"ConfigMap/{ns}/api-config"
    )
    assert kinds_and_names(only_config) == [("ConfigMap", "api-config")]

    with pytest.raises(ValidationError, match="is not in namespace"):
        services.extract_template(project, acting_user=dev, name="x", objects="Deployment/other/api")
    with pytest.raises(ValidationError, match="is not Kind/name"):
        services.extract_template(project, acting_user=dev, name="x", objects="Deployment/a/b/c")
    with pytest.raises(ValidationError, match="None of the selected objects goes into a template"):
        services.extract_template(project, acting_user=dev, name="x", objects=f"Pod/{ns}/api-1")
    with pytest.raises(ValidationError, match="not in the resource mirror"):
        services.extract_template(project, acting_user=dev, name="x", objects=f"Deployment/{ns}/gone")
    assert not Template.objects.filter(name="x").exists()

    # the page: the topology of the namespace links to the extract flow, which shows the selection
    client.force_login(dev)
    html = client.get(f"/topology/tenants/acme/{ns}/").content.decode()
    assert f'data-extract-url="/templates/extract/?project={project.pk}"' in html
    assert "js/topology-extract.js" in html
    url = f"/templates/extract/?project={project.pk}&objects=Deployment/{ns}/api,Service/{ns}/api"
    html = client.get(url).content.decode()
    assert 'data-testid="extract-selection"' in html and f"<code>Deployment/{ns}/api</code>" in html
    assert f'<option value="{project.pk}" selected>' in html
    response = client.post(
        "/templates/extract/", {"project": project.pk, "name": "from-page", "objects": f"Service/{ns}/api"}
    )
    assert response.status_code == 302
    assert kinds_and_names(Template.objects.get(name="from-page")) == [("Service", "api")]
    response = client.post("/templates/extract/", {"project": project.pk, "name": "bad", "objects": "Pod/x"})
    assert response.status_code == 400
    assert "None of the selected objects goes into a template" in response.content.decode()


def test_auditors_get_no_extract_button(cluster, project, auditor, client):
    client.force_login(auditor)
    html = client.get(f"/topology/tenants/acme/{project.name}/").content.decode()
    assert 'id="topology"' in html and "data-extract-url" not in html
