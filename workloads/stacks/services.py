"""Template and stack operations. Each takes the acting user, checks the rules (who may see
and change a template; the tenant's namespace, quota and Pod Security level), asks the
cluster as that user (server-side dry run of every object), writes the operation log and
queues the work as a job (tasks.py). Tenants self-serve inside their tenant: their
templates are private to it; operators publish templates to every tenant."""

import difflib
import re
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from console.accounts import roles
from console.accounts.access import require_permission
from console.jobs import jobs
from console.kube.errors import ApiRefused
from console.oplog import oplog
from tenants import access
from workloads import imports, panels, podsecurity, specs
from workloads.checks import check_may_change
from workloads.cluster import talking_to
from workloads.manifests import APP_LABEL
from workloads.models import App
from workloads.storage import services as storage
from workloads.storage.choices import BackupStatus

from . import cost, extract, render
from .choices import StackStatus
from .models import PriceTable, Stack, Template, TemplateVersion

MAX_VERSIONS = 200


# --- who sees what ---------------------------------------------------------------------------


def visible_templates(user):
    if access.may_see_all(user):
        return Template.objects.all()
    return Template.objects.filter(Q(tenant=None) | Q(tenant__in=access.visible_tenants(user)))


def get_template(user, pk):
    template = visible_templates(user).filter(pk=pk).select_related("tenant").first()
    if template is None:
        raise Http404("no such template")
    return template


def get_version(template, number):
    version = template.versions.filter(number=number).first()
    if version is None:
        raise Http404("no such version")
    return version


def may_change_template(user, template):
    if template.tenant_id is None:
        return roles.is_operator(user)
    return access.may_operate(user, template.tenant) and template.tenant.is_active


def _check_may_change(user, template):
    require_permission(
        may_change_template(user, template),
        _("Only operators change published templates; tenants change their own."),
    )
    if template.recommended:
        raise ValidationError(_("Templates shipped with the console are not changed here: copy one first."))


def _check_owner(user, tenant):
    if tenant is None:
        require_permission(roles.is_operator(user), _("Only operators publish templates to every tenant."))
    else:
        require_permission(
            access.may_operate(user, tenant), _("Only the tenant's members and operators add its templates.")
        )
        require_permission(tenant.is_active, _("The tenant is suspended."))


def visible_stacks(user):
    return Stack.objects.filter(project__in=access.visible_projects(user))


def get_stack(user, tenant, namespace, name):
    return access.get_in_namespace(user, tenant, namespace, Stack.objects.select_related("version__template"), name)


# --- templates and versions ------------------------------------------------------------------


def _parse_outputs(text):
    from console import documents

    try:
        data = documents.load_yaml(text or "", max_bytes=16 * 1024) or []
    except documents.DocumentError as exc:
        raise ValidationError({"outputs": _("Outputs: %(error)s") % {"error": exc}}) from None
    if not isinstance(data, list) or not all(isinstance(o, dict) and "name" in o and "value" in o for o in data):
        raise ValidationError({"outputs": _("Outputs: write a list of mappings with name and value.")})
    return [{"name": str(o["name"])[:100], "value": str(o["value"])[:500]} for o in data][:20]


def check_version(manifests, parameters_text, outputs_text=""):
    """(parameters, outputs) of a version that renders; line-numbered errors under each field."""
    try:
        parameters = render.parse_parameters(parameters_text)
    except ValidationError as exc:
        raise ValidationError({"parameters": exc.messages}) from None
    outputs = _parse_outputs(outputs_text)
    try:
        render.validate_version(manifests or "", parameters)
    except ValidationError as exc:
        raise ValidationError({"manifests": exc.messages}) from None
    return parameters, outputs


def _new_version(template, user, manifests, parameters, outputs, note=""):
    last = template.versions.order_by("-number").first()
    if last is not None and last.number >= MAX_VERSIONS:
        raise ValidationError(_("A template keeps at most %(n)s versions.") % {"n": MAX_VERSIONS})
    return TemplateVersion.objects.create(
        template=template,
        number=(last.number + 1) if last else 1,
        manifests=manifests,
        parameters=[p.as_dict() for p in parameters],
        outputs=outputs,
        note=note[:200],
        created_by=user,
    )


def _check_name(name, tenant):
    if not name or len(name) > 63 or not specs.DNS_LABEL.match(name):
        raise ValidationError({"name": _("Use lower-case letters, digits and - (at most 63).")})
    if Template.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": _("A template named %(name)s exists already.") % {"name": name}})


def create_template(
    *, acting_user, tenant, name, description="", manifests="", parameters="", outputs="", note=""
) -> Template:
    """A new template (tenant None: published by an operator) and its version 1."""
    target = {"tenant": tenant.name if tenant else "", "kind": "Template", "name": name}
    with oplog.recorded(acting_user, "template.create", target=target, payload={"description": description}) as outcome:
        _check_owner(acting_user, tenant)
        _check_name(name, tenant)
        params, outs = check_version(manifests, parameters, outputs)
        template = Template.objects.create(
            name=name, tenant=tenant, description=description[:2000], created_by=acting_user
        )
        version = _new_version(template, acting_user, manifests, params, outs, note)
        outcome.after = {"template": template.pk, "version": version.number, "parameters": version.parameters}
    return template


def add_version(template, *, acting_user, manifests="", parameters="", outputs="", note="") -> TemplateVersion:
    """A new version (versions are never changed)."""
    with oplog.recorded(acting_user, "template.version", target=template.target()) as outcome:
        _check_may_change(acting_user, template)
        params, outs = check_version(manifests, parameters, outputs)
        last = template.latest()
        if last and last.manifests == manifests and last.parameters == [p.as_dict() for p in params]:
            raise ValidationError(_("Nothing changed since version %(n)s.") % {"n": last.number})
        version = _new_version(template, acting_user, manifests, params, outs, note)
        outcome.before = {"version": last.number if last else None}
        outcome.after = {"version": version.number}
    return version


def copy_template(template, *, acting_user, tenant, name) -> Template:
    """A private copy of a template's latest version for a tenant (or, by an operator, a published one)."""
    source = template.latest()
    target = {"tenant": tenant.name if tenant else "", "kind": "Template", "name": name}
    payload = {"from": template.name, "version": source.number if source else None}
    with oplog.recorded(acting_user, "template.copy", target=target, payload=payload) as outcome:
        require_permission(
            template.tenant_id is None or access.may_see(acting_user, template.tenant),
            _("You may not use this template."),
        )
        _check_owner(acting_user, tenant)
        _check_name(name, tenant)
        copy = Template.objects.create(
            name=name, tenant=tenant, description=template.description, created_by=acting_user
        )
        version = TemplateVersion.objects.create(
            template=copy,
            number=1,
            manifests=source.manifests,
            parameters=source.parameters,
            outputs=source.outputs,
            note=_("copied from %(name)s v%(n)s") % {"name": template.name, "n": source.number},
            created_by=acting_user,
        )
        outcome.after = {"template": copy.pk, "version": version.number}
    return copy


def delete_template(template, *, acting_user, confirm_name) -> None:
    with oplog.recorded(acting_user, "template.delete", target=template.target()) as outcome:
        _check_may_change(acting_user, template)
        if confirm_name != template.name:
            raise ValidationError({"confirm_name": _("Type the template's name to confirm.")})
        if Stack.objects.filter(version__template=template).exists():
            raise ValidationError(_("Stacks run this template: delete them first."))
        outcome.before = {"versions": template.versions.count()}
        template.delete()


def version_diff(old, new):
    """Unified diff between two versions (parameters, then manifests)."""

    def text(version):
        return (
            "# parameters\n"
            + render.parameters_text(render.parameters_of(version))
            + "# manifests\n"
            + version.manifests
        )

    lines = difflib.unified_diff(
        text(old).splitlines(), text(new).splitlines(), f"v{old.number}", f"v{new.number}", lineterm="", n=3
    )
    return "\n".join(lines)


# --- instantiating ---------------------------------------------------------------------------


@dataclass
class Row:
    kind: str
    name: str
    action: str = ""  # create, change, unchanged, remove
    diff: str = ""
    error: str = ""


@dataclass
class Plan:
    objects: list
    values: dict
    rows: list[Row] = field(default_factory=list)
    estimate: cost.Estimate | None = None
    quota_error: str = ""

    @property
    def refused(self):
        return [f"{r.kind} {r.name}: {r.error}" for r in self.rows if r.error]

    @property
    def ok(self):
        return not self.refused and not self.quota_error


def _render_for(project, version, values):
    objects, resolved = render.render(version.manifests, render.parameters_of(version), values, project.name)
    podsecurity.check_objects(project.tenant.pod_security, objects)
    storage.check_policy_annotations(objects)  # a claim's caas.io/backup-policy names a policy that exists
    return objects, resolved


def live_objects(api, namespace, objects):
    """{(kind, name): live object} of the objects' kinds in the namespace: one list per kind,
    not one read per object."""
    found = {}
    for kind in dict.fromkeys(o["kind"] for o in objects):
        for item in api.list(kind, namespace):
            found[(kind, item["metadata"]["name"])] = {**item, "kind": kind}
    return found


def _plan(api, project, objects, resolved, *, owned=(), text=True):
    """Dry run of every object as the user; objects that exist already are refused unless
    this stack owns them (an upgrade)."""
    plan = Plan(objects=objects, values=resolved)
    owned = {(o["kind"], o["name"]) for o in owned}
    existing = live_objects(api, project.name, objects)
    apps = set(App.objects.filter(project=project).values_list("name", flat=True))
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        row = Row(kind, name)
        plan.rows.append(row)
        live = existing.get((kind, name))
        if live is not None and (kind, name) not in owned:
            row.error = _("exists already in %(ns)s (not made by this stack).") % {"ns": project.name}
            continue
        if kind in imports.WORKLOAD_KINDS and live is None:
            if name in apps:
                row.error = _("an app named %(name)s exists already.") % {"name": name}
                continue
        try:
            result = api.apply(obj, dry_run=True)
        except ApiRefused as exc:
            row.error = exc.message
            continue
        row.action, row.diff = _diff(live, result, text=text)
    try:
        cost.check_quota(api, project, objects)
    except ValidationError as exc:
        plan.quota_error = " ".join(exc.messages)
    plan.estimate = cost.estimate(objects, project.cluster, project.limit_range)
    return plan


def _diff(live, result, *, text=True):
    """(create, change or unchanged; unified diff) as a reader compares objects. Without
    `text`, a new object's diff is left out (YAML dumping is the slow part of a plan)."""
    if live is None:
        return "create", imports.comparable(result) if text else ""
    before, after = imports.comparable(live), imports.comparable(result)
    if before == after:
        return "unchanged", ""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), _("on the cluster"), _("after the change"), lineterm="", n=2
    )
    return "change", "\n".join(lines)


def preview_stack(project, *, user, version, values) -> Plan:
    """What instantiating would create, the cluster's dry-run verdict on each object, the
    quota check and the cost. Reads only."""
    check_may_change(user, project)
    _check_may_use(user, version.template, project)
    objects, resolved = _render_for(project, version, values)
    with talking_to(project, user) as api:
        return _plan(api, project, objects, resolved)


def _check_may_use(user, template, project):
    if template.tenant_id is not None and template.tenant_id != project.tenant_id:
        raise ValidationError(_("This template belongs to another tenant."))
    if template.tenant_id is not None:
        require_permission(access.may_see(user, template.tenant), _("You may not use this template."))


def _stack_job(stack, user, kind, payload):
    project = stack.project
    return jobs.create_job(
        kind,
        requested_by=user,
        tenant=(project.tenant_id, project.tenant.name),
        target={"cluster": project.cluster.name, "namespace": project.name, "kind": "Stack", "name": stack.name},
        payload={"stack": stack.pk, **payload},
    )


def create_stack(project, *, acting_user, version, name, values) -> tuple[Stack, object]:
    """Instantiate a version into the namespace: everything checked first (render, Pod
    Security, dry run of every object as the user, quota), then created by one job."""
    target = {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": "Stack",
        "name": name,
    }
    payload = {"template": version.template.name, "version": version.number, "parameters": values}
    with oplog.recorded(acting_user, "stack.create", target=target, payload=payload) as outcome:
        check_may_change(acting_user, project)
        _check_may_use(acting_user, version.template, project)
        if not name or len(name) > 40 or not specs.DNS_LABEL.match(name):
            raise ValidationError({"stack_name": _("Use lower-case letters, digits and - (at most 40).")})
        if Stack.objects.filter(project=project, name=name).exists():
            raise ValidationError({"stack_name": _("A stack named %(name)s exists already.") % {"name": name}})
        objects, resolved = _render_for(project, version, values)
        outcome.payload = {**payload, "parameters": resolved}
        with talking_to(project, acting_user) as api:
            plan = _plan(api, project, objects, resolved, text=False)
        if plan.refused:
            raise ValidationError(
                _("Nothing was created; the cluster refuses: %(errors)s") % {"errors": "; ".join(plan.refused)}
            )
        if plan.quota_error:
            raise ValidationError(plan.quota_error)
        stack = Stack.objects.create(
            project=project,
            name=name,
            version=version,
            parameters=resolved,
            outputs=render.outputs(version, resolved),
            created_by=acting_user,
            status=StackStatus.CREATING,
        )
        job = _stack_job(stack, acting_user, "stack.create", {"objects": objects})
        outcome.accepted(job, objects=[f"{o['kind']}/{o['metadata']['name']}" for o in objects])
    return stack, job


def stack_volumes(stack):
    """The volumes of the stack's claims (its own PVCs and its StatefulSets'), with what makes
    their claims: [(volume, labels the claim carries)]."""
    own = {r["name"] for r in stack.resources if r["kind"] == "PersistentVolumeClaim"}
    sets = [r["name"] for r in stack.resources if r["kind"] == "StatefulSet"]
    found = []
    for volume in stack.project.volumes.order_by("name"):
        if volume.name in own:
            found.append((volume, {}))
            continue
        for name in sets:  # <claim template>-<statefulset>-<ordinal>, labelled as its pods are
            if re.match(rf"^[a-z0-9-]+-{re.escape(name)}-\d+$", volume.name):
                found.append((volume, {APP_LABEL: name}))
                break
    return found


def replicate_stack(stack, *, acting_user, target, with_data=False):
    """The same version with the same parameters in another namespace of the tenant (on any of
    its clusters): the whole topology again, checked and created like any instantiation.
    `with_data`: each of its volumes is first restored from its latest backup into the new
    namespace under the same name (storage's restore to a new volume), and the new stack's
    job waits for those restores before it creates anything that mounts them."""
    if target is None:
        raise ValidationError({"project": _("Choose a namespace.")})
    if target.tenant_id != stack.project.tenant_id:
        raise ValidationError({"project": _("A stack is replicated within its tenant.")})
    if target == stack.project:
        raise ValidationError({"project": _("Choose another namespace than the stack's own.")})
    if not with_data:
        return create_stack(
            target, acting_user=acting_user, version=stack.version, name=stack.name, values=dict(stack.parameters)
        )
    payload = {"to": f"{target.cluster.name}/{target.name}", "with_data": True}
    with oplog.recorded(acting_user, "stack.replicate", target=stack.target(), payload=payload) as outcome:
        sources = []
        for volume, labels in stack_volumes(stack):
            node = volume.backups.filter(status=BackupStatus.SUCCEEDED).order_by("-created_at", "-pk").first()
            if node is None:
                raise ValidationError(
                    _("Volume %(name)s has no backup yet: back it up first, or replicate without its data.")
                    % {"name": volume.name}
                )
            sources.append((volume, node, labels))
        if not sources:
            raise ValidationError(_("The stack has no volumes with data: replicate it without."))
        copy, job = create_stack(
            target, acting_user=acting_user, version=stack.version, name=stack.name, values=dict(stack.parameters)
        )
        restores = []
        for volume, node, labels in sources:
            restored, _job = storage.restore_backup(
                node, acting_user=acting_user, name=volume.name, project=target, labels=labels
            )
            restores.append({"volume": restored.pk, "name": restored.name, "backup": node.pk})
        job.payload = {**job.payload, "restores": [r["volume"] for r in restores]}
        job.save(update_fields=["payload"])
        outcome.accepted(job, stack=copy.pk, restores=restores)
    return copy, job


def preview_upgrade(stack, *, user, version, values) -> Plan:
    """The diff of every object between what runs and the new version, and what goes away."""
    check_may_change(user, stack.project)
    _check_may_use(user, version.template, stack.project)
    if version.template_id != stack.version.template_id:
        raise ValidationError(_("A stack upgrades to a version of its own template."))
    objects, resolved = _render_for(stack.project, version, values)
    with talking_to(stack.project, user) as api:
        plan = _plan(api, stack.project, objects, resolved, owned=stack.resources)
    kept = {(o["kind"], o["metadata"]["name"]) for o in objects}
    plan.rows += [
        Row(o["kind"], o["name"], action="remove") for o in stack.resources if (o["kind"], o["name"]) not in kept
    ]
    return plan


def upgrade_stack(stack, *, acting_user, version, values):
    payload = {"version": version.number, "parameters": values}
    with oplog.recorded(acting_user, "stack.upgrade", target=stack.target(), payload=payload) as outcome:
        if stack.busy:
            raise ValidationError(_("The stack is busy: wait for its job to end."))
        plan = preview_upgrade(stack, user=acting_user, version=version, values=values)
        if plan.refused:
            raise ValidationError(
                _("Nothing was changed; the cluster refuses: %(errors)s") % {"errors": "; ".join(plan.refused)}
            )
        if all(r.action == "unchanged" for r in plan.rows):
            raise ValidationError(_("Nothing to change: the stack runs this already."))
        outcome.before = {"version": stack.version.number, "parameters": stack.parameters}
        Stack.objects.filter(pk=stack.pk).update(status=StackStatus.UPGRADING)
        removed = [{"kind": r.kind, "name": r.name} for r in plan.rows if r.action == "remove"]
        job = _stack_job(
            stack,
            acting_user,
            "stack.upgrade",
            {"objects": plan.objects, "remove": removed, "version": version.pk, "parameters": plan.values},
        )
        outcome.accepted(job, version=version.number)
    return job


def delete_stack(stack, *, acting_user, confirm_name):
    with oplog.recorded(acting_user, "stack.delete", target=stack.target()) as outcome:
        check_may_change(acting_user, stack.project)
        if confirm_name != stack.name:
            raise ValidationError({"confirm_name": _("Type the stack's name to confirm.")})
        if stack.status == StackStatus.DELETING:
            raise ValidationError(_("The stack is being deleted already."))
        outcome.before = {"objects": stack.resources, "version": stack.version.number}
        # its StatefulSets' claims go with it: refused while their volumes have backups (as for an app)
        names = [r["name"] for r in stack.resources if r["kind"] == "StatefulSet"]
        for app in App.objects.filter(project=stack.project, kind="StatefulSet", name__in=names):
            panels.before_app_delete(app, True)
        Stack.objects.filter(pk=stack.pk).update(status=StackStatus.DELETING)
        job = outcome.accepted(_stack_job(stack, acting_user, "stack.delete", {}))
    return job


# --- extracting ------------------------------------------------------------------------------


MAX_SELECTION = 200


def parse_selection(text, namespace=""):
    """[(kind, name)] from "Kind/name,Kind/namespace/name,..." (the topology page's node ids;
    kinds a template does not hold, such as Pods or Secrets, are left out). ValidationError
    for what is not such a list."""
    selection = []
    for item in [i.strip() for i in (text or "").split(",") if i.strip()][: MAX_SELECTION + 1]:
        parts = item.split("/")
        if len(parts) not in (2, 3) or not specs.DNS_SUBDOMAIN.match(parts[-1]) or not parts[0].isalpha():
            raise ValidationError({"objects": _("%(item)s is not Kind/name.") % {"item": item[:100]}})
        if len(parts) == 3 and parts[1] != namespace:
            raise ValidationError(
                {"objects": _("%(item)s is not in namespace %(ns)s.") % {"item": item[:100], "ns": namespace}}
            )
        if parts[0] in extract.KINDS:
            selection.append((parts[0], parts[-1]))
    if len(selection) > MAX_SELECTION:
        raise ValidationError({"objects": _("Select at most %(n)s objects.") % {"n": MAX_SELECTION}})
    return selection


def extract_template(project, *, acting_user, name, app="", objects="", description="") -> Template:
    """A private template of the tenant from what runs in the namespace (or one app of it, or
    the objects selected on the topology page: "Kind/name,..."), read from the resource mirror."""
    target = {"tenant": project.tenant.name, "cluster": project.cluster.name, "namespace": project.name}
    target.update(kind="Template", name=name)
    payload = {"app": app, "objects": objects[:2000]} if objects else {"app": app}
    with oplog.recorded(acting_user, "template.extract", target=target, payload=payload) as outcome:
        check_may_change(acting_user, project)
        _check_name(name, project.tenant)
        selection = parse_selection(objects, project.name)
        if objects and not selection:
            raise ValidationError(
                {
                    "objects": _(
                        "None of the selected objects goes into a template: select apps, Services, Ingresses, ..."
                    )
                }
            )
        if selection and app:
            raise ValidationError({"app": _("Extract either an app or a selection, not both.")})
        manifests, parameters = extract.extract(project, app=app, selection=selection)
        if not manifests and selection:
            raise ValidationError(
                _("Nothing to extract: the selected objects are not in the resource mirror of %(ns)s.")
                % {"ns": project.name}
            )
        if not manifests:
            raise ValidationError(_("Nothing to extract: no app runs there (as the resource mirror shows)."))
        params = render.check_parameters(parameters)
        try:
            render.validate_version(manifests, params)
        except ValidationError as exc:
            raise ValidationError(
                _("The extracted objects do not make a valid template: %(error)s") % {"error": " ".join(exc.messages)}
            ) from None
        source = f"{project.cluster.name}/{project.name}" + (f"/{app}" if app else "")
        if selection:
            source += (
                " ("
                + ", ".join(f"{kind}/{obj}" for kind, obj in selection[:10])
                + ("…" if len(selection) > 10 else "")
                + ")"
            )
        template = Template.objects.create(
            name=name,
            tenant=project.tenant,
            description=description or _("Extracted from %(source)s.") % {"source": source},
            created_by=acting_user,
        )
        version = _new_version(
            template, acting_user, manifests, params, [], _("extracted from %(source)s") % {"source": source}
        )
        outcome.after = {"template": template.pk, "version": version.number, "parameters": version.parameters}
    return template


# --- prices ----------------------------------------------------------------------------------


def set_prices(
    cluster, *, acting_user, currency, cpu_core_month, memory_gib_month, storage_gib_month, load_balancer_month
):
    values = {
        "currency": currency,
        "cpu_core_month": cpu_core_month,
        "memory_gib_month": memory_gib_month,
        "storage_gib_month": storage_gib_month,
        "load_balancer_month": load_balancer_month,
    }
    target = {"cluster": cluster.name, "kind": "PriceTable", "name": cluster.name}
    with oplog.recorded(
        acting_user, "prices.set", target=target, payload={k: str(v) for k, v in values.items()}
    ) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators keep the price tables."))
        for key, value in values.items():
            if key != "currency" and (value is None or value < 0):
                raise ValidationError({key: _("Give a price of 0 or more.")})
        table = PriceTable.objects.filter(cluster=cluster).first()
        outcome.before = {k: str(getattr(table, k)) for k in values} if table is not None else None
        table, _created = PriceTable.objects.update_or_create(
            cluster=cluster, defaults={**values, "updated_by": acting_user}
        )
        outcome.after = {k: str(v) for k, v in values.items()}
    return table


def dump(objects):
    return yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True)
