"""Demo projects with real trained versions: delivery time (LightGBM and PyTorch) and card
fraud (LightGBM), trained in this process so they are there when the portal opens."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from portal.demo.clock import story_at
from portal.models import User
from proposals.demo import story_after
from proposals.models import Proposal, ProposalKind, ProposalState
from registry import demo_data, services
from registry.models import Dataset, MLProject, ModelVersion
from workers.models import JobState
from workers.runtime import job_execute

DELIVERY_FEATURES = ["distance_km", "items", "hour", "weekday", "courier_load", "raining", "zone"]
FRAUD_FEATURES = ["amount", "hour", "merchant_category", "card_age_days", "country_mismatch", "velocity_1h"]


def _dataset(problem: str, name: str, by: User, project: MLProject | None = None) -> Dataset:
    existing = Dataset.objects.filter(name=name).first()
    if existing:
        return existing
    path = demo_data.write_csv(problem, settings.DATASETS_FOLDER / "demo" / f"{problem}.csv", rows=3000, seed=7)
    return services.dataset_register(name=name, by=by, path=path, project=project)


def _train(project: MLProject, dataset: Dataset, *, by: User, target: str, features: list[str], task: str,
           framework: str, params: dict, schedule: str = "") -> ModelVersion | None:
    job = services.training_start(project=project, dataset=dataset, target=target, features=features, task=task,
                                  framework=framework, by=by, seed=42, params=params, schedule=schedule)
    # Run it here rather than wait for a worker; the queued copy finds it done and does nothing.
    job_execute(job.pk)
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise RuntimeError(f"demo training failed: {job.error}")
    return ModelVersion.objects.filter(training_job_id=job.pk).first()


def seed() -> str:
    if ModelVersion.objects.exists():
        return f"{ModelVersion.objects.count()} model versions already there"
    made = []
    # Approval makes the project after commit; make sure it is there before training on it. Each
    # step happens when the story says: the project on its approval, the training in the days after.
    for proposal in Proposal.objects.filter(state=ProposalState.APPROVED, kind=ProposalKind.ML_APPLICATION):
        with story_at((proposal.decided_at or timezone.now()) + dt.timedelta(minutes=5)):
            services.project_create_for_proposal(proposal_id=proposal.pk)
    delivery = MLProject.objects.filter(proposal__title="Delivery time prediction").first()
    if delivery is not None:
        erin = User.objects.get(username="erin")
        with story_at(story_after(0.05)):
            data = _dataset("delivery_times", "deliveries", erin, delivery)
        with story_at(story_after(0.08)):
            lgbm = _train(delivery, data, by=erin, target="minutes", features=DELIVERY_FEATURES, task="regression",
                          framework="lightgbm", params={"num_boost_round": 120}, schedule="0 3 * * 1")
        with story_at(story_after(0.1)):
            _train(delivery, data, by=erin, target="minutes", features=DELIVERY_FEATURES, task="regression",
                   framework="torch", params={"epochs": 25})
        with story_at(story_after(0.12)):
            services.model_version_alias_set(version=lgbm, alias="champion", by=User.objects.get(username="erin"),
                                             reason="Lowest validation error of the first two candidates.")
        made.append(delivery.name)
    fraud = MLProject.objects.filter(proposal__title="Card fraud scoring").first()
    if fraud is not None:
        frank = User.objects.get(username="frank")
        with story_at(story_after(0.25)):
            data = _dataset("card_fraud", "card payments", frank)
            _train(fraud, data, by=frank, target="is_fraud", features=FRAUD_FEATURES, task="binary",
                   framework="lightgbm", params={"num_boost_round": 80})
        made.append(fraud.name)
    return f"{ModelVersion.objects.count()} trained model versions in {', '.join(made) or 'no projects'}"
