"""What the registry does when something happens in the apps below it."""

from __future__ import annotations


def on_proposal_approved(sender, proposal_id: int, **kwargs) -> None:
    """An approved ML proposal becomes its ML project, through a job: visible on the Jobs page,
    safe to run again, and its failure (MLflow down) is a failed job someone sees, not a log line.
    Runs after the approval committed, so the approval always stands."""
    from registry.services import project_create_start

    project_create_start(proposal_id=proposal_id)


def on_migrated(sender, **kwargs) -> None:
    """``migrate`` also prepares a local MLflow store, before any web or worker process opens it:
    a process stopped half-way through creating MLflow's tables would leave them unusable."""
    from registry import mlflow_client

    mlflow_client.store_initialise(mlflow_client.tracking_uri())
