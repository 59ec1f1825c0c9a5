"""The stack page's websocket group, stack-<id>: the stack's status and objects
(templates/stacks/_stack_facts.html) pushed after each step of its job, in each language."""

from console.live import realtime
from tenants import access

from .models import Stack

TEMPLATE = "stacks/_stack_facts.html"


def push(stack_id):
    stack = _stack(str(stack_id))
    if stack is not None:
        realtime.push_in_each_language(stack.group, TEMPLATE, {"stack": stack, "oob": True})


def _stack(ident):
    if not ident.isdigit():
        return None
    return Stack.objects.filter(pk=int(ident)).select_related("project__tenant").first()


def may_follow(user, ident):
    """Only who may see the stack's tenant (another tenant's stack is as if it did not exist)."""
    stack = _stack(ident)
    return stack is not None and access.may_see(user, stack.project.tenant)


def snapshot(user, ident):
    stack = _stack(ident)
    return "" if stack is None else realtime.render_for(user, TEMPLATE, {"stack": stack, "oob": True})
