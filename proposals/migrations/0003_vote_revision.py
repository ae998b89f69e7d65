from django.db import migrations, models


def backfill(apps, schema_editor):
    """A vote cast before this field existed was on the revision that was the latest when it was
    last changed (votes before any revision existed stay unknown)."""
    Vote = apps.get_model("proposals", "Vote")
    ProposalRevision = apps.get_model("proposals", "ProposalRevision")
    revisions: dict[int, list[tuple]] = {}
    for proposal_id, number, created_at in ProposalRevision.objects.order_by("number").values_list(
            "proposal_id", "number", "created_at"):
        revisions.setdefault(proposal_id, []).append((number, created_at))
    for vote in Vote.objects.select_related("item").filter(revision__isnull=True, item__proposal__isnull=False):
        history = revisions.get(vote.item.proposal_id, [])
        before = [number for number, created_at in history if created_at <= vote.updated_at]
        number = before[-1] if before else (history[0][0] if history else None)
        if number is not None:
            Vote.objects.filter(pk=vote.pk).update(revision=number)


class Migration(migrations.Migration):

    dependencies = [
        ("proposals", "0002_choices_for_requester_function_and_chair_decision"),
    ]

    operations = [
        migrations.AddField(
            model_name="vote",
            name="revision",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
