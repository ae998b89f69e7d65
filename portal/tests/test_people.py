"""People, pods and the Council from the portal: the services, the pages and the API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal import people
from portal.errors import DomainError, Forbidden
from portal.models import AuditEvent, ChairTerm, CouncilMembership, Function, Pod, PodLead, User
from portal.selectors import chair_term_current, council_member_list
from portal.tests.factories import (
    ChairTermFactory, CouncilMembershipFactory, PodFactory, PodLeadFactory, UserFactory,
)
from portal.tests.fixtures import api_client_for, client_for, text_of

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def admin():
    return UserFactory(username="root", is_staff=True, full_name="Ada Admin")


@pytest.fixture
def chair():
    user = UserFactory(username="chair", full_name="Chloe Chair", function=Function.ML_INFRA_ENGINEER)
    CouncilMembershipFactory(user=user, start_date=TODAY() - timedelta(days=90))
    ChairTermFactory(user=user, start_date=TODAY() - timedelta(days=30))
    return user


@pytest.fixture
def outsider():
    return UserFactory(username="olly", full_name="Olly Outsider", function=Function.ANALYST)


# --- services -------------------------------------------------------------------------------------

def test_an_administrator_adds_and_updates_a_person_and_each_change_is_audited(admin):
    pod = people.pod_add(actor=admin, name="Delivery")

    person = people.person_add(actor=admin, username="nina", email="nina@example.com", full_name="Nina Park",
                               function="data_scientist", pod=pod)
    changes = people.person_update(actor=admin, user=person, function="ml_engineer", pod=None)

    person.refresh_from_db()
    assert (person.function, person.pod) == ("ml_engineer", None)
    assert not person.has_usable_password()
    assert changes == {"function": ["data_scientist", "ml_engineer"], "pod": ["Delivery", ""]}
    verbs = list(AuditEvent.objects.filter(actor=admin).values_list("verb", flat=True))
    assert verbs == ["pod.created", "user.created", "user.updated"]
    # Saving the same values again changes nothing and writes nothing.
    assert people.person_update(actor=admin, user=person, function="ml_engineer") == {}
    assert AuditEvent.objects.filter(actor=admin).count() == 3


@pytest.mark.parametrize("call", [
    lambda actor, other: people.person_add(actor=actor, username="x", email="x@example.com"),
    lambda actor, other: people.person_update(actor=actor, user=other, full_name="Changed"),
    lambda actor, other: people.person_deactivate(actor=actor, user=other),
    lambda actor, other: people.pod_add(actor=actor, name="Growth"),
    lambda actor, other: people.pod_lead_set(actor=actor, pod=PodFactory(name="Growth"), function="pm", user=other),
    lambda actor, other: people.council_membership_add(actor=actor, user=other),
    lambda actor, other: people.chair_handover(actor=actor, to_user=other),
])
def test_someone_who_is_neither_admin_nor_chair_is_refused_everything(outsider, call):
    other = UserFactory(username="target", full_name="Tara Target")
    audit_before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        call(outsider, other)
    other.refresh_from_db()
    assert other.full_name == "Tara Target" and other.is_active
    assert AuditEvent.objects.count() == audit_before
    assert not User.objects.filter(username="x").exists() and not PodLead.objects.exists()


def test_the_chair_manages_the_council_but_not_people(chair):
    newcomer = UserFactory(username="newcomer", full_name="Nora New")

    people.council_membership_add(actor=chair, user=newcomer, start_date=TODAY())
    term = people.chair_handover(actor=chair, to_user=newcomer, from_date=TODAY() + timedelta(days=7))

    assert newcomer in council_member_list()
    assert chair_term_current().user == chair  # still chair for the week before the handover
    assert chair_term_current(day=TODAY() + timedelta(days=7)).user == newcomer
    assert ChairTerm.objects.get(user=chair).end_date == TODAY() + timedelta(days=6)
    assert term.end_date > term.start_date
    assert AuditEvent.objects.filter(verb="chair.handed_over", actor=chair, to_state="newcomer").exists()
    with pytest.raises(Forbidden, match="Only administrators"):
        people.person_update(actor=chair, user=newcomer, full_name="Renamed")


def test_the_chair_goes_only_to_an_active_council_member(admin, chair):
    stranger = UserFactory(username="stranger")
    with pytest.raises(DomainError, match="not on the Council"):
        people.chair_handover(actor=admin, to_user=stranger)
    with pytest.raises(DomainError, match="already chairs"):
        people.chair_handover(actor=admin, to_user=chair)
    assert chair_term_current().user == chair


def test_a_membership_cannot_overlap_nor_end_before_it_starts(admin):
    member = UserFactory(username="member", full_name="Max Member")
    people.council_membership_add(actor=admin, user=member, start_date=TODAY() - timedelta(days=10))

    with pytest.raises(DomainError, match="already on the Council"):
        people.council_membership_add(actor=admin, user=member, start_date=TODAY() + timedelta(days=30))
    with pytest.raises(DomainError, match="cannot end before it starts"):
        people.council_membership_add(actor=admin, user=UserFactory(), start_date=TODAY(),
                                      end_date=TODAY() - timedelta(days=1))
    membership = CouncilMembership.objects.get(user=member)
    people.council_membership_end(actor=admin, membership=membership, end_date=TODAY() - timedelta(days=1))
    assert member not in council_member_list()
    assert AuditEvent.objects.filter(verb="council.member_ended", from_state="member").exists()


def test_pod_lead_set_replaces_and_clears_a_lead(admin):
    pod = PodFactory(name="Delivery")
    first, second = UserFactory(username="first"), UserFactory(username="second")

    people.pod_lead_set(actor=admin, pod=pod, function="pm", user=first)
    people.pod_lead_set(actor=admin, pod=pod, function="pm", user=second)
    assert PodLead.objects.get(pod=pod, function="pm").user == second
    people.pod_lead_set(actor=admin, pod=pod, function="pm", user=None)

    assert not PodLead.objects.filter(pod=pod).exists()
    assert list(AuditEvent.objects.filter(verb="pod.lead_set").values_list("from_state", "to_state")) == [
        ("", "first"), ("first", "second"), ("second", ""),
    ]


def test_bad_input_is_refused_with_a_reason_and_nothing_is_saved(admin):
    UserFactory(username="taken")
    with pytest.raises(DomainError, match="taken"):
        people.person_add(actor=admin, username="TAKEN", email="t@example.com")
    with pytest.raises(DomainError, match="not a valid email"):
        people.person_add(actor=admin, username="fresh", email="not-an-email")
    with pytest.raises(DomainError, match="no spaces"):
        people.person_add(actor=admin, username="two words", email="t@example.com")
    with pytest.raises(DomainError, match="Function 'wizard'"):
        people.person_add(actor=admin, username="fresh", email="f@example.com", function="wizard")
    PodFactory(name="Delivery")
    with pytest.raises(DomainError, match="already a pod"):
        people.pod_add(actor=admin, name="delivery")
    assert not User.objects.filter(username="fresh").exists()
    assert not AuditEvent.objects.filter(actor=admin).exists()


# --- deactivation -----------------------------------------------------------------------------------

def test_a_deactivated_person_cannot_sign_in_and_is_off_the_council(admin):
    person = UserFactory(username="leaver", full_name="Lee Leaver")
    person.set_password("a-strong-pass-9")
    person.save()
    CouncilMembershipFactory(user=person, start_date=TODAY() - timedelta(days=5))
    signed_in = client_for(person)

    people.person_deactivate(actor=admin, user=person, reason="Left the company")

    assert not Client().login(username="leaver", password="a-strong-pass-9")
    assert signed_in.get("/people/").status_code == 302  # the old session no longer counts
    assert person not in council_member_list()
    event = AuditEvent.objects.get(verb="user.deactivated")
    assert (event.from_state, event.to_state, event.data) == ("active", "inactive", {"reason": "Left the company"})
    # History stays: the membership is still there, and the person can come back.
    assert CouncilMembership.objects.filter(user=person).exists()
    people.person_reactivate(actor=admin, user=person)
    assert Client().login(username="leaver", password="a-strong-pass-9")


def test_the_chair_and_oneself_cannot_be_deactivated(admin, chair):
    with pytest.raises(DomainError, match="hand the chair over first"):
        people.person_deactivate(actor=admin, user=chair)
    with pytest.raises(DomainError, match="cannot deactivate yourself"):
        people.person_deactivate(actor=admin, user=admin)
    chair.refresh_from_db()
    assert chair.is_active


def test_a_deactivated_person_cannot_be_given_a_role(admin):
    person = UserFactory(username="gone")
    people.person_deactivate(actor=admin, user=person)
    with pytest.raises(DomainError, match="deactivated"):
        people.pod_lead_set(actor=admin, pod=PodFactory(name="Delivery"), function="pm", user=person)
    with pytest.raises(DomainError, match="deactivated"):
        people.council_membership_add(actor=admin, user=person)


# --- pages ------------------------------------------------------------------------------------------

def test_the_people_page_searches_filters_and_shows_add_only_to_admins(admin, outsider):
    pod = PodFactory(name="Payments")
    UserFactory(username="heidi", full_name="Heidi Hart", function=Function.DS_MANAGER, pod=pod)
    gone = UserFactory(username="gone", full_name="Gina Gone")
    gone.is_active = False
    gone.save()

    listed = lambda url: set(re.findall(r'href="/people/([\w.@+-]+)/"', client_for(outsider).get(url).content.decode()))
    page = text_of(client_for(outsider).get("/people/"))
    assert listed("/people/") == {"heidi", "olly", "root"}
    assert "Add a person" not in page
    assert "People" in page  # the navigation names the section

    assert listed("/people/?q=payments") == {"heidi"}
    assert listed("/people/?q=science") == {"heidi"}
    assert listed("/people/?q=olly") == {"olly"}
    assert listed("/people/?function=ds_manager") == {"heidi"}
    assert listed("/people/?pod=Payments") == {"heidi"}
    assert listed("/people/?active=inactive") == {"gone"}
    assert listed("/people/?active=all") == {"heidi", "olly", "root", "gone"}
    assert "Nobody matches" in text_of(client_for(outsider).get("/people/?q=zzzz"))
    assert "Add a person" in text_of(client_for(admin).get("/people/"))


def test_an_admin_adds_edits_and_deactivates_through_the_pages(admin):
    client = client_for(admin)
    PodFactory(name="Delivery")

    response = client.post("/people/new/", {"username": "nina", "email": "nina@example.com", "full_name": "Nina Park",
                                            "function": "data_scientist", "pod": Pod.objects.get().pk})
    assert response.status_code == 302 and response["Location"] == "/people/nina/"
    response = client.post("/people/nina/edit/", {"email": "nina@corp.example.com", "full_name": "Nina Park",
                                                  "function": "ml_engineer", "pod": ""})
    assert response.status_code == 302
    nina = User.objects.get(username="nina")
    assert (nina.email, nina.function, nina.pod) == ("nina@corp.example.com", "ml_engineer", None)

    confirm = text_of(client.get("/people/nina/deactivate/"))
    assert "Deactivate Nina Park?" in confirm and "no open duties" in confirm
    nina.refresh_from_db()
    assert nina.is_active  # asking is not doing
    response = client.post("/people/nina/deactivate/", {"reason": "Moved on"}, follow=True)
    assert "Nina Park is deactivated" in text_of(response)
    assert "Reactivate" in text_of(response)
    nina.refresh_from_db()
    assert not nina.is_active


def test_bad_input_on_the_add_form_is_shown_and_kept(admin):
    UserFactory(username="taken")
    response = client_for(admin).post("/people/new/", {"username": "taken", "email": "x@example.com",
                                                       "full_name": "Xavier"})
    assert response.status_code == 409
    page = text_of(response)
    assert "The username 'taken' is taken." in page
    assert 'value="Xavier"' in response.content.decode()


def test_outsiders_read_people_and_pods_but_get_no_edit_controls_and_cannot_post(outsider):
    pod = PodFactory(name="Delivery")
    lead = UserFactory(username="pm1", full_name="Pam Lead", function=Function.PM, pod=pod)
    PodLeadFactory(pod=pod, function=Function.PM, user=lead)
    client = client_for(outsider)

    person_page = text_of(client.get("/people/pm1/"))
    assert "Delivery: Product manager lead" in person_page
    assert "Edit" not in person_page and "Deactivate" not in person_page
    pods_page = text_of(client.get("/pods/"))
    assert "Pam Lead" in pods_page and "Edit leads" not in pods_page and "Add a pod" not in pods_page
    assert client.get("/people/new/").status_code == 403
    assert client.post("/people/pm1/deactivate/").status_code == 403
    assert client.post("/pods/", {"pod-name": "Sneaky"}).status_code == 403
    assert client.get(f"/pods/{pod.pk}/leads/").status_code == 403
    lead.refresh_from_db()
    assert lead.is_active and not Pod.objects.filter(name="Sneaky").exists()


def test_an_admin_adds_a_pod_and_sets_its_leads(admin):
    pm, em = UserFactory(username="pm1", full_name="Pam"), UserFactory(username="em1", full_name="Ed")
    client = client_for(admin)

    response = client.post("/pods/", {"pod-name": "Growth", "pod-description": "Acquisition"})
    pod = Pod.objects.get(name="Growth")
    assert response.status_code == 302
    response = client.post(f"/pods/{pod.pk}/leads/", {"pm": "pm1", "em": "em1", "ds_manager": "", "analytics_manager": ""})
    assert response.status_code == 302
    assert dict(PodLead.objects.filter(pod=pod).values_list("function", "user__username")) == {"pm": "pm1", "em": "em1"}
    assert "Edit leads" in text_of(client.get("/pods/"))
    assert pm and em


def test_the_chair_manages_members_on_the_council_members_page(chair, outsider):
    client = client_for(chair)
    page = text_of(client.get("/council/members/"))
    assert "Add a member" in page and "Hand over the chair" in page
    assert "Add a member" not in text_of(client_for(outsider).get("/council/members/"))

    response = client.post("/council/members/", {"action": "add", "add-user": "olly",
                                                  "add-start_date": TODAY().isoformat()})
    assert response.status_code == 302
    assert outsider in council_member_list()
    response = client.post("/council/members/", {"action": "chair", "chair-user": "olly",
                                                  "chair-from_date": TODAY().isoformat()})
    assert response.status_code == 302
    assert chair_term_current().user == outsider
    # The former chair is no longer chair, so can no longer change the Council.
    response = client.post("/council/members/", {"action": "add", "add-user": "olly",
                                                  "add-start_date": TODAY().isoformat()})
    assert response.status_code == 403


def test_a_refused_handover_says_why_on_the_page(chair):
    UserFactory(username="stranger", full_name="Stan Stranger")
    CouncilMembershipFactory(user=UserFactory(username="later", full_name="Laura Later"),
                             start_date=TODAY() + timedelta(days=30))
    response = client_for(chair).post("/council/members/", {"action": "chair", "chair-user": "later",
                                                            "chair-from_date": TODAY().isoformat()})
    assert response.status_code == 409
    assert "Laura Later is not on the Council on" in text_of(response)
    response = client_for(chair).post("/council/members/", {"action": "chair", "chair-user": "stranger",
                                                            "chair-from_date": TODAY().isoformat()})
    assert response.status_code == 400  # not a member at all, so not one of the choices
    assert chair_term_current().user == chair


# --- API --------------------------------------------------------------------------------------------

def test_api_people_round_trip(admin):
    api = api_client_for(admin)
    api.post("/api/v1/pods/", {"name": "Delivery"}, format="json")

    created = api.post("/api/v1/people/", {"username": "nina", "email": "nina@example.com", "full_name": "Nina Park",
                                           "function": "data_scientist", "pod": "Delivery"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["pod"] == "Delivery" and created.json()["open_duties"] == []
    patched = api.patch("/api/v1/people/nina/", {"function": "ml_engineer", "pod": None}, format="json")
    assert (patched.json()["function"], patched.json()["pod"]) == ("ml_engineer", None)
    listed = api.get("/api/v1/people/?q=nina").json()
    assert [p["username"] for p in listed["results"]] == ["nina"]

    gone = api.post("/api/v1/people/nina/deactivate/", {"reason": "Left"}, format="json")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert api.get("/api/v1/people/").json()["count"] == 1  # only the admin is active
    assert api.get("/api/v1/people/?active=inactive").json()["results"][0]["username"] == "nina"
    again = api.post("/api/v1/people/nina/deactivate/", {}, format="json")
    assert again.status_code == 409 and "already deactivated" in again.json()["detail"]


def test_api_refuses_outsiders_and_bad_input_with_reasons(admin, outsider):
    api = api_client_for(outsider)
    refused = api.post("/api/v1/people/", {"username": "x", "email": "x@example.com"}, format="json")
    assert refused.status_code == 403 and "administrators" in refused.json()["detail"]
    assert api.patch("/api/v1/people/olly/", {"full_name": "Hacked"}, format="json").status_code == 403
    bad = api_client_for(admin).post("/api/v1/people/", {"username": "y", "email": "nope"}, format="json")
    assert bad.status_code == 400 and "not a valid email" in bad.json()["detail"]
    assert api.get("/api/v1/people/olly/").json()["name"] == "Olly Outsider"
    assert api.get("/api/v1/people/nobody/").status_code == 404


def test_api_pods_and_leads(admin):
    api = api_client_for(admin)
    UserFactory(username="pm1")
    pod = api.post("/api/v1/pods/", {"name": "Growth"}, format="json").json()

    patched = api.patch(f"/api/v1/pods/{pod['id']}/", {"leads": {"pm": "pm1"}}, format="json")
    assert patched.status_code == 200 and patched.json()["leads"] == {"pm": "pm1"}
    bad = api.patch(f"/api/v1/pods/{pod['id']}/", {"leads": {"wizard": "pm1"}}, format="json")
    assert bad.status_code == 400
    cleared = api.patch(f"/api/v1/pods/{pod['id']}/", {"leads": {"pm": None}}, format="json")
    assert cleared.json()["leads"] == {}
    assert api.get("/api/v1/pods/").json()["results"][0]["name"] == "Growth"
    duplicate = api.post("/api/v1/pods/", {"name": "growth"}, format="json")
    assert duplicate.status_code == 409


def test_api_council_members_and_chair_handover(chair, outsider):
    api = api_client_for(chair)
    added = api.post("/api/v1/council/", {"username": "olly", "start_date": TODAY().isoformat()}, format="json")
    assert added.status_code == 201, added.json()
    assert {m["username"] for m in added.json()["members"]} == {"chair", "olly"}

    handed = api.post("/api/v1/council/chair/", {"username": "olly"}, format="json")
    assert handed.status_code == 200 and handed.json()["chair"]["username"] == "olly"
    assert api_client_for(outsider).get("/api/v1/council/").json()["chair"]["name"] == "Olly Outsider"
    refused = api.post("/api/v1/council/chair/", {"username": "chair"}, format="json")
    assert refused.status_code == 403  # no longer the chair, not an admin


def test_api_ends_a_council_membership(chair, outsider):
    api = api_client_for(chair)
    added = api.post("/api/v1/council/", {"username": "olly", "start_date": (TODAY() - timedelta(days=30)).isoformat()},
                     format="json")
    olly = next(m for m in added.json()["members"] if m["username"] == "olly")
    mine = next(m for m in added.json()["members"] if m["username"] == "chair")

    refused = api_client_for(outsider).post(f"/api/v1/council/memberships/{olly['id']}/end/", {}, format="json")
    assert refused.status_code == 403 and refused.json()["detail"]
    sitting = api.post(f"/api/v1/council/memberships/{mine['id']}/end/", {}, format="json")
    assert sitting.status_code == 409 and "hand the chair over first" in sitting.json()["detail"]
    assert api.post("/api/v1/council/memberships/999999/end/", {}, format="json").status_code == 404

    ended = api.post(f"/api/v1/council/memberships/{olly['id']}/end/", {}, format="json")
    assert ended.status_code == 200, ended.json()
    assert "olly" not in {m["username"] for m in ended.json()["members"]}  # off the Council from today
    assert AuditEvent.objects.filter(verb="council.member_ended", from_state="olly").exists()


def test_the_people_api_is_in_the_schema(admin):
    schema = client_for(admin).get("/api/schema/?format=json").json()
    for path in ("/api/v1/people/", "/api/v1/people/{username}/", "/api/v1/people/{username}/deactivate/",
                 "/api/v1/pods/", "/api/v1/pods/{pod_id}/", "/api/v1/council/", "/api/v1/council/chair/",
                 "/api/v1/council/memberships/{membership_id}/end/"):
        assert path in schema["paths"], path
    assert "403" in schema["paths"]["/api/v1/people/{username}/deactivate/"]["post"]["responses"]


def test_a_deactivated_lead_is_named_on_the_leads_form_and_kept_until_replaced(admin):
    pod = PodFactory(name="Delivery")
    gone, em = UserFactory(username="gone", full_name="Gina Gone"), UserFactory(username="em1", full_name="Ed")
    PodLeadFactory(pod=pod, function=Function.PM, user=gone)
    people.person_deactivate(actor=admin, user=gone)
    client = client_for(admin)

    assert "Gina Gone is deactivated: choose who takes over." in text_of(client.get(f"/pods/{pod.pk}/leads/"))
    client.post(f"/pods/{pod.pk}/leads/", {"pm": "gone", "em": "em1", "ds_manager": "", "analytics_manager": ""})
    assert dict(PodLead.objects.filter(pod=pod).values_list("function", "user__username")) == {"pm": "gone", "em": "em1"}
    assert em


def test_the_import_reports_what_a_service_refuses_on_its_line_and_imports_nothing(admin):
    from portal.people_import import ImportRejected, people_import

    gone = UserFactory(username="gone", email="gone@example.com", full_name="Gina Gone", function=Function.PM)
    people.person_deactivate(actor=admin, user=gone)
    text = ("username,email,full_name,function,pod,pod_lead,council,chair\n"
            "newbie,newbie@example.com,Nell Newbie,analyst,Growth,false,false,false\n"
            "gone,gone@example.com,Gina Gone,pm,Growth,true,false,false\n")

    with pytest.raises(ImportRejected) as rejected:
        people_import(text=text)

    assert rejected.value.errors == ["line 3: Gina Gone is deactivated and cannot lead a pod."]
    assert not User.objects.filter(username="newbie").exists()
    assert not Pod.objects.filter(name="Growth").exists()
