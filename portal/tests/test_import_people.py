"""`manage.py import_people`: the CSV file is the truth for the people it names."""

from __future__ import annotations

from io import StringIO

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import AuditEvent, ChairTerm, CouncilMembership, Pod, PodLead, User
from portal.selectors import chair_term_current, council_member_list
from portal.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = "username,email,full_name,function,pod,pod_lead,council,chair\n"

PEOPLE = HEADER + (
    "alice,alice@example.com,Alice Moreau,pm,Delivery,true,true,true\n"
    "bob,bob@example.com,Bob Okafor,em,Delivery,true,false,false\n"
    "carol,carol@example.com,Carol Nguyen,data_scientist,Delivery,false,true,false\n"
    "dan,dan@example.com,Dan Kowalski,pm,Delivery,false,false,false\n"
    "erin,erin@example.com,Erin Li,analyst,Growth,false,true,false\n"
    "frank,frank@example.com,Frank Osei,ml_infra_engineer,,false,false,false\n"
)

# The same people a quarter later: Carol became an ML engineer, Bob moved to Growth (and
# stopped leading Delivery's engineers), Alice handed the Delivery PM lead to Dan, Erin
# left the council, and Dan took over the chair from Alice.
PEOPLE_LATER = HEADER + (
    "alice,alice@example.com,Alice Moreau,pm,Delivery,false,true,false\n"
    "bob,bob@example.com,Bob Okafor,em,Growth,false,false,false\n"
    "carol,carol@example.com,Carol Nguyen,ml_engineer,Delivery,false,true,false\n"
    "dan,dan@example.com,Dan Kowalski,pm,Delivery,true,true,true\n"
    "erin,erin@example.com,Erin Li,analyst,Growth,false,false,false\n"
    "frank,frank@example.com,Frank Osei,ml_infra_engineer,,false,false,false\n"
)


def run_import(tmp_path, text: str, name: str = "people.csv") -> tuple[str, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_people", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot() -> dict:
    """Everything an import may touch, in a form two runs can be compared by."""
    return {
        "users": sorted(
            User.objects.values_list("username", "email", "full_name", "function", "pod__name", "password")
        ),
        "pods": sorted(Pod.objects.values_list("name", flat=True)),
        "leads": sorted(PodLead.objects.values_list("pod__name", "function", "user__username")),
        "council": sorted(CouncilMembership.objects.values_list("user__username", "start_date", "end_date")),
        "chairs": sorted(ChairTerm.objects.values_list("user__username", "start_date", "end_date")),
        "audit": AuditEvent.objects.count(),
    }


def test_a_good_file_creates_people_pods_leads_council_and_chair(tmp_path):
    out, err = run_import(tmp_path, PEOPLE)

    assert "6 created, 0 updated, 0 unchanged; 2 new pod(s)" in out
    assert err == ""
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.full_name, alice.function, alice.pod.name) == (
        "alice@example.com", "Alice Moreau", "pm", "Delivery",
    )
    assert User.objects.get(username="frank").pod is None
    assert sorted(Pod.objects.values_list("name", flat=True)) == ["Delivery", "Growth"]
    assert sorted(PodLead.objects.values_list("pod__name", "function", "user__username")) == [
        ("Delivery", "em", "bob"),
        ("Delivery", "pm", "alice"),
    ]
    assert sorted(council_member_list().values_list("username", flat=True)) == ["alice", "carol", "erin"]

    today = timezone.localdate()
    chair = chair_term_current()
    assert chair.user.username == "alice"
    assert chair.start_date == today
    assert chair.end_date == today + relativedelta(months=12) - relativedelta(days=1)
    assert f"alice is chair until {chair.end_date:%Y-%m-%d}" in out
    assert AuditEvent.objects.filter(verb="user.created").count() == 6
    assert AuditEvent.objects.filter(verb="chair.handed_over", to_state="alice").count() == 1


def test_imported_people_cannot_sign_in_with_a_password(tmp_path, client):
    run_import(tmp_path, PEOPLE)

    alice = User.objects.get(username="alice")
    assert not alice.has_usable_password()
    assert not client.login(username="alice", password="")
    assert not client.login(username="alice", password=alice.password)


def test_running_the_same_file_twice_changes_nothing(tmp_path):
    run_import(tmp_path, PEOPLE)
    before = snapshot()

    out, _ = run_import(tmp_path, PEOPLE)

    assert snapshot() == before
    assert "0 created, 0 updated, 6 unchanged; 0 new pod(s)" in out


def test_a_changed_file_updates_roles_and_stays_stable_when_rerun(tmp_path):
    run_import(tmp_path, PEOPLE)
    audit_before = AuditEvent.objects.count()

    out, _ = run_import(tmp_path, PEOPLE_LATER)

    assert "0 created, 5 updated, 1 unchanged; 0 new pod(s)" in out
    assert User.objects.get(username="carol").function == "ml_engineer"
    assert User.objects.get(username="bob").pod.name == "Growth"
    assert sorted(PodLead.objects.values_list("pod__name", "function", "user__username")) == [
        ("Delivery", "pm", "dan"),
    ]
    assert sorted(council_member_list().values_list("username", flat=True)) == ["alice", "carol", "dan"]
    assert not CouncilMembership.objects.active_on().filter(user__username="erin").exists()
    assert chair_term_current().user.username == "dan"
    assert "dan is chair until" in out
    updates = AuditEvent.objects.filter(verb="user.updated", object_repr="Bob Okafor").get()
    assert updates.data["changes"]["pod"] == ["Delivery", "Growth"]
    assert AuditEvent.objects.count() > audit_before

    # The file is now the truth: importing it again is a no-op, audit log included.
    after = snapshot()
    out, _ = run_import(tmp_path, PEOPLE_LATER)
    assert "0 created, 0 updated, 6 unchanged" in out
    assert snapshot() == after


def test_leaving_the_council_ends_the_membership_but_keeps_its_history(tmp_path):
    run_import(tmp_path, PEOPLE)
    today = timezone.localdate()
    joined = today - relativedelta(days=30)
    CouncilMembership.objects.filter(user__username="erin").update(start_date=joined)

    run_import(tmp_path, PEOPLE_LATER)

    membership = CouncilMembership.objects.get(user__username="erin")
    assert (membership.start_date, membership.end_date) == (joined, today - relativedelta(days=1))
    assert "erin" not in council_member_list().values_list("username", flat=True)
    assert "erin" in council_member_list(day=today - relativedelta(days=1)).values_list("username", flat=True)


def test_a_file_with_bad_rows_imports_nothing_and_names_every_bad_line(tmp_path):
    UserFactory(username="zoe", email="zoe@example.com")
    run_import(tmp_path, PEOPLE)
    before = snapshot()
    bad = HEADER + (
        "newbie,newbie@example.com,New Person,pm,Platform,true,true,false\n"  # 2: fine on its own
        "x1,x1@example.com,X One,wizard,Delivery,false,false,false\n"  # 3
        "x2,not-an-email,X Two,pm,Delivery,false,false,false\n"  # 4
        "newbie,dup@example.com,Dup,em,,false,false,false\n"  # 5
        "x3,x3@example.com,X Three,em,,true,false,false\n"  # 6
        "x4,x4@example.com,X Four,em,Delivery,false,false,true\n"  # 7
        "x5,x5@example.com,X Five,em,Delivery,maybe,false,false\n"  # 8
        "x6,x6@example.com,X Six,em,Delivery,false,true,true\n"  # 9
        "x7,x7@example.com,X Seven,em,Delivery,false,true,true\n"  # 10
    )

    with pytest.raises(CommandError) as raised:
        run_import(tmp_path, bad, name="bad.csv")

    assert "nothing was imported" in str(raised.value)
    assert snapshot() == before
    assert not User.objects.filter(username="newbie").exists()
    assert not Pod.objects.filter(name="Platform").exists()


def test_every_bad_line_is_reported_on_stderr_with_its_reason(tmp_path):
    bad = HEADER + (
        "good,good@example.com,Good Person,pm,Delivery,true,true,false\n"  # 2
        "x1,x1@example.com,X One,wizard,Delivery,false,false,false\n"  # 3
        "x2,not-an-email,X Two,pm,Delivery,false,false,false\n"  # 4
        "good,dup@example.com,Dup,em,,false,false,false\n"  # 5
        "x3,x3@example.com,X Three,em,,true,false,false\n"  # 6
        "x4,x4@example.com,X Four,em,Delivery,false,false,true\n"  # 7
        "x5,x5@example.com,X Five,em,Delivery,maybe,false,false\n"  # 8
        "x6,x6@example.com,X Six,em,Delivery,false,true,true\n"  # 9
        "x7,x7@example.com,X Seven,em,Delivery,false,true,true\n"  # 10
    )
    path = tmp_path / "bad.csv"
    path.write_text(bad, encoding="utf-8")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="bad row"):
        call_command("import_people", str(path), stdout=out, stderr=err)

    lines = err.getvalue().splitlines()
    expected = {
        "line 3:": "function 'wizard' is not one of",
        "line 4:": "email 'not-an-email' is not a valid address",
        "line 5:": "username 'good' already appears on line 2",
        "line 6:": "pod_lead is true but no pod is given",
        "line 7:": "chair is true but council is false",
        "line 8:": "pod_lead must be true or false, not 'maybe'",
        "lines 9, 10:": "only one person can be chair",
    }
    for where, reason in expected.items():
        matching = [line for line in lines if f"{path}: {where}" in line]
        assert matching, f"nothing reported for {where}:\n{err.getvalue()}"
        assert reason in matching[0], matching[0]
    assert not any("line 2:" in line for line in lines), "the good line was reported as bad"
    assert out.getvalue() == ""
    assert User.objects.count() == 0
    assert Pod.objects.count() == 0


def test_a_file_missing_a_column_imports_nothing_and_names_the_column(tmp_path):
    text = "username,email,full_name,function,pod,pod_lead,council\nann,ann@example.com,Ann,pm,Delivery,false,false\n"
    path = tmp_path / "short.csv"
    path.write_text(text, encoding="utf-8")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_people", str(path), stdout=StringIO(), stderr=err)

    assert "line 1: missing column(s): chair" in err.getvalue()
    assert User.objects.count() == 0


def test_a_missing_file_gives_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere.csv"

    with pytest.raises(CommandError, match=r"nowhere\.csv: no such file"):
        call_command("import_people", str(missing), stdout=StringIO(), stderr=StringIO())


def test_a_token_from_drf_create_token_authenticates_the_api(tmp_path):
    run_import(tmp_path, PEOPLE)
    out = StringIO()

    call_command("drf_create_token", "alice", stdout=out)

    key = out.getvalue().split("Generated token ", 1)[1].split()[0]
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert with_token.get("/api/v1/jobs/").status_code == 200

    assert APIClient().get("/api/v1/jobs/").status_code == 401
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Token {key[::-1]}")
    assert wrong.get("/api/v1/jobs/").status_code == 401
