"""The reference sample for versions trained before training saved one: the version's dataset
scored by the version itself, written into its MLflow run as ``reference_sample.parquet``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from django.conf import settings

from registry.models import ModelVersion


def reference_backfill_run(job) -> dict[str, Any]:
    from observability import references
    from registry import mlflow_client
    from registry.mlflow_client import tracking_uri
    from registry.selectors import dataset_frame
    from registry.training import reference_sample
    from serving.runtime import loader
    from serving.runtime.verify import reference_frame_for
    from serving.selectors import version_spec

    version = ModelVersion.objects.select_related("registered_model", "dataset").get(pk=job.params["model_version_id"])
    spec = version_spec(version)
    if reference_frame_for(spec) is not None:
        job.log(f"{version} already has its reference sample.")
        return {"model_version": version.pk, "rows": None}
    params = version.params or {}
    features = [*params.get("numeric_features", []), *params.get("categorical_features", [])]
    target = params.get("target", "")
    frame = dataset_frame(dataset=version.dataset)
    job.progress(20, f"Scoring {len(frame):,} rows of {version.dataset.name} with {version}")
    loaded = loader.version_load(spec, cache_dir=settings.SERVING_CACHE_DIR, tracking_uri=tracking_uri())
    predictions = np.asarray(loaded.predict_frame(frame[features]))
    classes = loaded.classes
    both = frame[[*features, target]].copy()
    if classes is not None:  # reference_sample expects the training encoding of the target
        index = {str(c): i for i, c in enumerate(classes)}
        both[target] = both[target].astype(str).map(index).fillna(0).astype(int)
    sample = reference_sample(both, predictions, SimpleNamespace(features=features, target=target,
                                                                  seed=int(params.get("seed", 0) or 0)), classes)
    job.progress(80, f"Saving {len(sample):,} reference rows to the MLflow run")
    mlflow_client.run_log_frame(run_id=version.mlflow_run_id, frame=sample, artifact_file="reference_sample.parquet")
    references.cache_forget(version.pk)
    job.log(f"Saved the reference sample of {version}: {len(sample):,} rows.")
    return {"model_version": version.pk, "rows": len(sample)}
