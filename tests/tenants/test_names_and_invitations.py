"""Tenants stay apart: a tenant's namespaces (<tenant>-<name>) can never look like another
tenant's, refusals name nothing of other tenants, and members join only by accepting an
invitation whose answer does not tell whether the name has an account."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from console.oplog.models import OperationLogEntry
from tenants import services
from tenants.models import Membership

from ..factories import PASSWORD, mk_cluster, mk_member, mk_tenant, mk_user

pytestmark = pytest.mark.django_db


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "existing,new", [("rival", "rival-x"), ("rival", "rival-x-y"), ("acme-corp", "acme"), ("a-b-c", "a-b")]
)
def test_a_tenant_name_may_not_extend_or_start_another(operator, existing, new):
    mk_tenant(existing)
    with pytest.raises(ValidationError) as refused:
        services.create_tenant(acting_user=operator, name=new, display_name="")
    assert "another tenant's name" in refused.value.messages[0] and existing not in refused.value.messages[0]
    services.create_tenant(
        acting_user=operator, name=new.replace("-", "") + "z", display_name=""
    )  # unrelated names still go


def test_a_namespace_in_another_tenants_space_is_refused_without_naming_it():
    """Tenants named before names were checked: "rival" must not take "rival-x-dev" from "rival-x"."""
    cluster = mk_cluster()
    rival, rival_x = mk_tenant("rival", clusters=[cluster]), mk_tenant("rival-x", clusters=[cluster])
    rival_admin, rival_x_admin = (
        mk_member(rival, "r-admin", "tenant-admin"),
        mk_member(rival_x, "rx-admin", "tenant-admin"),
    )
    with pytest.raises(ValidationError) as refused:
        services.create_project(rival, acting_user=rival_admin, cluster=cluster, short_name="x-dev", quota={})
    assert refused.value.messages == ["The namespace name rival-x-dev is not available; choose another."]
    project, _job = services.create_project(
        rival_x, acting_user=rival_x_admin, cluster=cluster, short_name="dev", quota={}
    )
    assert project.name == "rival-x-dev"
    # Once it exists, the same answer: not "exists already on <cluster>".
    with pytest.raises(ValidationError) as again:
        services.create_project(rival, acting_user=rival_admin, cluster=cluster, short_name="x-dev", quota={})
    assert again.value.messages == refused.value.messages
    # A tenant's own namespace is still named as such.
    with pytest.raises(ValidationError, match="exists already"):
        services.create_project(rival_x, acting_user=rival_x_admin, cluster=cluster, short_name="dev", quota={})


# --- invitations ---------------------------------------------------------------------


@pytest.fixture
def world():
    acme, globex = mk_tenant("acme"), mk_tenant("globex")
    return {
        "acme": acme,
        "admin": mk_member(acme, "acme-admin", "tenant-admin", password=PASSWORD),
        "rival_user": mk_member(globex, "globex-dev", password=PASSWORD),
    }


def invite(client, admin, username, role="tenant-member"):
    client.force_login(admin)
    response = client.post(
        reverse("tenants:member_add", args=["acme"]), {"username": username, "role": role}, follow=True
    )
    assert response.status_code == 200
    notice = re.search(r'role="status">(.*?)</div>', response.content.decode(), re.S).group(1)
    client.logout()
    return response, notice


def test_inviting_answers_the_same_whether_or_not_the_name_exists(client, world):
    answers = []
    mk_user("platform-op", "operator")
    for username in ("globex-dev", "nobody-here", "platform-op"):  # another tenant's user, no account, an operator
        _response, notice = invite(client, world["admin"], username)
        answers.append(re.sub(r"token=\S+|" + username, "…", notice))
    assert answers[0] == answers[1] == answers[2]
    assert "Invitation for" in answers[0]
    # nobody was added, and no account was made
    assert list(Membership.objects.filter(tenant=world["acme"]).values_list("user__username", flat=True)) == [
        "acme-admin"
    ]
    assert not OperationLogEntry.objects.filter(action="tenant.member_add", after__new_account=True).exists()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="nobody-here").exists()


def test_the_invitee_joins_only_by_accepting_signed_in_as_themselves(client, world):
    _response, notice = invite(client, world["admin"], "globex-dev", role="tenant-admin")
    link = urlsplit(re.search(r"(http://\S+)", notice).group(1))
    page = f"{link.path}?{link.query}"
    # signed out: to the sign-in page, and back here afterwards
    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith(reverse("console:login"))
    # another account may not use it
    client.force_login(world["admin"])
    assert client.get(page).status_code == 403
    assert (
        client.post(reverse("tenants:invitation_accept"), {"token": parse_qs(link.query)["token"][0]}).status_code
        == 403
    )
    assert not Membership.objects.filter(tenant=world["acme"], user=world["rival_user"]).exists()
    # the invitee sees who invites them where, and joins
    client.force_login(world["rival_user"])
    response = client.get(page)
    assert response.status_code == 200
    assert "acme-admin invites you to join the tenant Acme as" in response.content.decode()
    token = re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)
    response = client.post(reverse("tenants:invitation_accept"), {"token": token})
    assert response.status_code == 302 and response["Location"] == reverse("tenants:tenant", args=["acme"])
    membership = Membership.objects.get(tenant=world["acme"], user=world["rival_user"])
    assert (membership.role, membership.invited_by) == ("tenant-admin", world["admin"])
    assert OperationLogEntry.objects.filter(
        action="tenant.member_join", actor_name="globex-dev", result="succeeded"
    ).exists()


def test_a_forged_or_stale_invitation_is_refused(client, world):
    client.force_login(world["rival_user"])
    assert client.get(reverse("tenants:invitation_accept") + "?token=forged").status_code == 403
    invited = services.invite_member(world["acme"], acting_user=world["admin"], username="globex-dev")
    Membership.objects.filter(user=world["admin"]).update(role="tenant-member")  # the inviter is no admin any more
    assert client.post(reverse("tenants:invitation_accept"), {"token": invited.token}).status_code == 403
    assert not Membership.objects.filter(tenant=world["acme"], user=world["rival_user"]).exists()
    assert OperationLogEntry.objects.filter(action="tenant.member_join", result="denied").exists()


def test_operators_still_add_members_at_once(world):
    operator = mk_user("op", "operator")
    invited = services.invite_member(world["acme"], acting_user=operator, username="fresh")
    assert invited.membership.user.username == "fresh" and invited.password and not invited.token


def test_someone_new_makes_their_account_from_the_invitation_link(client, world):
    """The same link, opened signed out for a name without an account: choose a password,
    join, signed in. The link then works like any other: sign in as the name."""
    from django.contrib.auth import get_user_model

    _response, notice = invite(client, world["admin"], "newcomer")
    link = urlsplit(re.search(r"(http://\S+)", notice).group(1))
    token = parse_qs(link.query)["token"][0]
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200 and "choose a password for your account" in page.content.decode()
    accept = reverse("tenants:invitation_accept")
    # a weak password, or two that differ: the form again with its messages, nothing made
    weak = client.post(accept, {"token": token, "password1": "newcomer", "password2": "newcomer"})
    differ = client.post(accept, {"token": token, "password1": "Long-enough-1", "password2": "Long-enough-2"})
    assert weak.status_code == differ.status_code == 400
    assert "invalid-feedback" in weak.content.decode() and "The two passwords differ." in differ.content.decode()
    assert not get_user_model().objects.filter(username="newcomer").exists()
    # a forged token makes nothing either
    assert client.post(accept, {"token": token + "x", "password1": PASSWORD, "password2": PASSWORD}).status_code in (
        302,
        403,
    )
    assert not get_user_model().objects.filter(username="newcomer").exists()

    response = client.post(accept, {"token": token, "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("tenants:tenant", args=["acme"])
    user = get_user_model().objects.get(username="newcomer")
    assert user.check_password(PASSWORD) and not user.must_change_password
    assert Membership.objects.get(tenant=world["acme"], user=user).role == "tenant-member"
    assert client.get(reverse("tenants:tenant", args=["acme"])).status_code == 200  # signed in
    entry = OperationLogEntry.objects.get(action="tenant.member_join", result="succeeded")
    assert entry.after["new_account"] is True and entry.after["user"] == "newcomer"

    # used once: signed out again, the link now asks to sign in as newcomer
    client.logout()
    again = client.post(accept, {"token": token, "password1": "Other-pass-99", "password2": "Other-pass-99"})
    assert again.status_code == 302 and again["Location"].startswith(reverse("console:login"))
    assert get_user_model().objects.get(username="newcomer").check_password(PASSWORD)


def test_a_signed_in_user_cannot_make_the_invited_account(world):
    invited = services.invite_member(world["acme"], acting_user=world["admin"], username="someone-new")
    with pytest.raises(PermissionError):
        services.join_with_new_account(invited.token, acting_user=world["rival_user"], password=PASSWORD)
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="someone-new").exists()
