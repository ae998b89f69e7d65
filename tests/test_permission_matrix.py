"""Who may do what, as one table: each state-changing service called as each persona, directly
(no page, no API), answering allowed or refused (``Forbidden``, HTTP 403). docs/permissions.md is
the same table in words.

Each persona's call runs in a savepoint that is rolled back, so every persona meets the same
starting point (a draft, an open vote, an escalation) and an allowed call really went through.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from portal.errors import Forbidden
from portal.tests.factories import UserFactory
from proposals import services as proposals
from proposals.tests.factories import complete_data, make_org, proposal_in_council_review, submitted_proposal

pytestmark = pytest.mark.django_db

PERSONAS = ["author", "technical_lead", "team_member", "pod_lead", "council_member", "chair", "outsider", "staff"]

# action -> the personas allowed; everyone else is refused.
ALLOWED = {
    "job cancel (a training of the project)": {"technical_lead", "team_member", "staff"},
    "proposal submit": {"author", "technical_lead"},
    "proposal edit (draft)": {"author", "technical_lead", "pod_lead"},
    "proposal edit (council review)": {"author", "technical_lead", "pod_lead", "council_member", "chair"},
    "proposal withdraw": {"author"},
    "pod review": {"pod_lead"},
    "council vote": {"council_member", "chair"},
    "vote close": {"chair"},
    "chair decision": {"chair"},
    "alias set (registry)": {"technical_lead", "team_member"},
    # The Council in make_org() are ML infrastructure engineers, who may deploy any approved project.
    "deploy (serving)": {"technical_lead", "team_member", "council_member", "chair"},
    "feature view change (serving)": {"technical_lead", "team_member", "staff"},
}


def _people(org) -> dict:
    return {"author": org.author, "technical_lead": org.lead, "team_member": org.engineer, "pod_lead": org.pm,
            "council_member": org.council[1], "chair": org.chair, "outsider": org.outsider,
            "staff": UserFactory(username="staff", is_staff=True, is_superuser=True)}


def _job_cancel(org):
    from registry.tests.factories import approved_project
    from workers.services import job_cancel, job_start

    _, project = approved_project(org)
    job = job_start(kind="training", started_by=org.lead, params={}, obj=project)
    return lambda person: job_cancel(job=job, by=person)


def _submit(org):
    draft = proposals.proposal_create(author=org.author, data=complete_data(org))
    return lambda person: proposals.proposal_submit(proposal=draft, by=person)


def _edit_draft(org):
    draft = proposals.proposal_create(author=org.author, data=complete_data(org))
    return lambda person: proposals.proposal_update(proposal=draft, by=person, data={"title": "Sharper title"})


def _edit_in_council(org):
    proposal = proposal_in_council_review(org)
    return lambda person: proposals.proposal_update(proposal=proposal, by=person, data={"title": "Sharper title"})


def _withdraw(org):
    draft = proposals.proposal_create(author=org.author, data=complete_data(org))
    return lambda person: proposals.proposal_withdraw(proposal=draft, by=person)


def _pod_review(org):
    proposal = submitted_proposal(org)
    return lambda person: proposals.pod_review_record(proposal=proposal, by=person, decision="approve")


def _vote(org):
    proposal = proposal_in_council_review(org)
    return lambda person: proposals.council_vote_cast(proposal=proposal, by=person, vote="approve")


def _close(org):
    proposal = proposal_in_council_review(org)
    return lambda person: proposals.council_vote_close(proposal=proposal, by=person)


def _chair_decision(org):
    proposal = proposal_in_council_review(org)
    for member, vote in zip(org.council, ["approve", "approve", "reject", "reject"]):
        proposals.council_vote_cast(proposal=proposal, by=member, vote=vote)
    proposal.refresh_from_db()
    assert proposal.state == "escalated"
    return lambda person: proposals.chair_decide(proposal=proposal, by=person, decision="approve",
                                                 rationale="The upside outweighs the risk.")


def _alias_set(org):
    from registry import mlflow_client
    from registry import services as registry
    from registry.models import ModelVersion
    from registry.tests.factories import approved_project, demo_dataset

    _, project = approved_project(org)
    model = project.models.get()
    registry.registered_model_ensure_in_mlflow(model=model)
    registered = mlflow_client.client().create_model_version(model.name, source="file:///nonexistent/model")
    version = ModelVersion.objects.create(registered_model=model, version=int(registered.version), mlflow_run_id="",
                                          dataset=demo_dataset("card_fraud", rows=50, by=org.lead))
    return lambda person: registry.model_version_alias_set(version=version, alias="challenger",
                                                           reason="Shadow it for a week.", by=person)


def _deploy(org):
    from serving import services as serving
    from serving.tests.factories import project_with_versions

    _, _, versions = project_with_versions(1, org=org)
    return lambda person: serving.deployment_deploy(name="matrix-eta", model_version=versions[0],
                                                    reason="First release.", by=person)


def _feature_view(org):
    import pandas as pd

    from registry import services as registry
    from registry.tests.factories import approved_project, csv_upload
    from serving.feature_store import services as features

    _, project = approved_project(org)
    frame = pd.DataFrame({"store_id": [1, 2], "at": ["2026-11-30T10:00:00", "2026-11-30T11:00:00"], "sales": [1.0, 2.0]})
    source = registry.dataset_register(name="stores", by=org.lead, project=project, uploaded_file=csv_upload(frame))
    view = features.feature_view_create(by=org.lead, project=project, name="stores", entity_key="store_id",
                                        features=[{"name": "sales", "type": "float"}], source=source,
                                        event_time_column="at")
    return lambda person: features.feature_view_update(view=view, by=person, description="Daily sales per store.")


SETUPS = {
    "job cancel (a training of the project)": _job_cancel,
    "proposal submit": _submit,
    "proposal edit (draft)": _edit_draft,
    "proposal edit (council review)": _edit_in_council,
    "proposal withdraw": _withdraw,
    "pod review": _pod_review,
    "council vote": _vote,
    "vote close": _close,
    "chair decision": _chair_decision,
    "alias set (registry)": _alias_set,
    "deploy (serving)": _deploy,
    "feature view change (serving)": _feature_view,
}


class _Undo(Exception):
    pass


@pytest.mark.parametrize("action", list(ALLOWED))
def test_who_may(action):
    org = make_org()
    people = _people(org)
    call = SETUPS[action](org)

    answers = {}
    for persona in PERSONAS:
        try:
            with transaction.atomic():
                call(people[persona])
                raise _Undo
        except _Undo:
            answers[persona] = "allowed"
        except Forbidden as refusal:
            assert refusal.message, f"{action} refused {persona} without saying why"
            answers[persona] = "refused"

    assert answers == {p: "allowed" if p in ALLOWED[action] else "refused" for p in PERSONAS}
