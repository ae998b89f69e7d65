"""A fresh MLflow store opened by several processes at once (web, workers) is created once."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OPEN_STORE = """
import os, sys, time
from pathlib import Path
import django
django.setup()
import mlflow.store.tracking.sqlalchemy_store, mlflow.store.model_registry.sqlalchemy_store  # import before the start
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
from registry import mlflow_client
print(mlflow_client.ping())
"""


def test_processes_opening_a_new_store_together_all_succeed(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}",
        "MLFLOW_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri(),
    }
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_STORE, str(go)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    time.sleep(6)  # every process has imported Django and MLflow and waits for the start
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    failures = [err[-800:] for p, (_, err) in zip(procs, results) if p.returncode != 0]
    assert not failures, failures
    assert all("sqlite store" in out for out, _ in results)


def test_migrate_prepares_a_local_store_before_any_process_opens_it(tmp_path, settings, django_db_blocker):
    import sqlalchemy
    from django.core.management import call_command
    from mlflow.store.db.utils import _all_tables_exist

    database = tmp_path / "store" / "mlflow.db"
    settings.MLFLOW_TRACKING_URI = f"sqlite:///{database}"
    with django_db_blocker.unblock():
        call_command("migrate", verbosity=0)
    assert database.exists()
    assert _all_tables_exist(sqlalchemy.create_engine(settings.MLFLOW_TRACKING_URI))
