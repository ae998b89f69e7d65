"""What the registry does when something happens in the apps below it."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def on_proposal_approved(sender, proposal_id: int, **kwargs) -> None:
    """An approved ML proposal becomes its ML project. Runs after the approval committed; a
    failure is logged, never raised, so the approval itself always stands."""
    from registry.services import project_create_for_proposal

    try:
        project_create_for_proposal(proposal_id=proposal_id)
    except Exception:
        logger.exception("could not create the ML project of proposal %s", proposal_id)


def on_migrated(sender, **kwargs) -> None:
    """``migrate`` also prepares a local MLflow store, before any web or worker process opens it:
    a process stopped half-way through creating MLflow's tables would leave them unusable."""
    from registry import mlflow_client

    mlflow_client.store_initialise(mlflow_client.tracking_uri())
