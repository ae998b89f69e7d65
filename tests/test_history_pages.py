"""Every timeline reads as sentences, with the raw event on demand: proposal, meeting, project,
version, job and endpoint pages."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.services import audit_record
from portal.tests.fixtures import client_for, text_of
from proposals import services as proposal_services
from proposals.models import AgendaItem
from proposals.tests.factories import make_org, submitted_proposal

pytestmark = pytest.mark.django_db


def history_of(response) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="history-line' in html and "<summary>Raw event</summary>" in html
    return text_of(response)


def test_the_proposal_page_tells_its_history(django_capture_on_commit_callbacks):
    org = make_org()
    proposal = submitted_proposal(org)
    proposal_services.pod_review_record(proposal=proposal, by=org.pm, decision="approve", comment="Impact is clear")
    for lead in org.pod_leads[1:]:
        proposal_services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    meeting = AgendaItem.objects.get(proposal=proposal, vote_open=True).meeting
    when = timezone.localtime(meeting.scheduled_for)

    page = history_of(client_for(org.author).get(reverse("proposals:detail", args=[proposal.pk])))
    author, pm = org.author.display_name, org.pm.display_name
    assert f"{author} started the proposal as a draft" in page
    assert f"{author} submitted it for pod review" in page
    assert f"{pm} approved as PM lead: “Impact is clear”" in page
    assert f"Moved to ML Council review; on the {when.day} {when:%B} agenda" in page
    assert "proposal.pod_reviewed" in page  # the raw event, in its <details>
    assert "approved as product manager" not in page and "pod_reviewed pod_review" not in page


def test_the_meeting_page_folds_repeated_notes_edits():
    org = make_org()
    meeting = proposal_services.meeting_next()
    for n in range(4):
        proposal_services.meeting_notes_update(meeting=meeting, by=org.chair, notes=f"Draft {n}")
    response = client_for(org.chair).get(reverse("proposals:meeting_detail", args=[meeting.pk]))
    page = history_of(response)
    assert f"{org.chair.display_name} edited the meeting notes 4 times" in page
    assert "4 events" in page and page.count("edited the meeting notes") == 5  # the line, then each of the four
    assert "The portal scheduled this ML Review" in page


def test_the_project_page_tells_its_history():
    from registry.tests.factories import approved_project

    org, project = approved_project()
    page = history_of(client_for(org.lead).get(reverse("registry:project_detail", args=[project.pk])))
    assert "created the project from the approved proposal; its model is" in page


def test_the_version_page_tells_its_history():
    from serving.tests.factories import project_with_versions

    org, project, (v1, v2) = project_with_versions()
    audit_record(actor=org.lead, verb="model_version.alias_moved", obj=v2, from_state="v1", to_state="v2",
                 data={"alias": "champion", "model": v2.registered_model.name, "reason": "Won the shadow week",
                       "previous_version": 1})
    page = history_of(client_for(org.lead).get(reverse("registry:version_detail", args=[v2.pk])))
    assert f"{org.lead.display_name} moved champion from v1 to v2: “Won the shadow week”" in page


def test_the_job_page_tells_its_history(django_capture_on_commit_callbacks):
    from workers.models import JobState
    from workers.services import job_finished, job_start

    org = make_org()
    with django_capture_on_commit_callbacks(execute=False):
        job = job_start(kind="system_check", started_by=org.outsider, params={})
    job_finished(job_id=job.pk, state=JobState.FAILED, message="Failed.", error="Redis is not answering")
    page = history_of(client_for(org.outsider).get(reverse("workers:job_detail", args=[job.pk])))
    assert f"{org.outsider.display_name} started the job (system check)" in page
    assert "It failed: “Redis is not answering”" in page


def test_the_endpoint_page_tells_each_revisions_story(django_capture_on_commit_callbacks):
    from serving import services
    from serving.tests.factories import project_with_versions, publish

    org, project, (v1, v2) = project_with_versions()
    with django_capture_on_commit_callbacks(execute=False):
        first = publish(services.deployment_deploy(name="delivery-eta", model_version=v1, reason="First model", by=org.lead))
        second = publish(services.deployment_shadow_add(name="delivery-eta", model_version=v2, reason="Shadow v2",
                                                        by=org.lead))
    response = client_for(org.lead).get(reverse("serving:endpoint_detail", args=["delivery-eta"]))
    page = history_of(response)
    lead = org.lead.display_name
    assert f"{lead} created the endpoint for {project.name}" in page
    assert f"{lead} asked to deploy v1 as primary (revision 1): “First model”" in page
    assert f"Deploy job #{first.job_id} published revision 1 (v1 as primary)" in page
    assert f"{lead} asked to add shadow v2 (revision 2): “Shadow v2”" in page
    assert f"Deploy job #{second.job_id} published revision 2 (shadow v2 added)" in page
    assert page.index("Revision 2") < page.index("Revision 1")  # newest first, each with its own story
