from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving"

    def ready(self) -> None:
        from serving import history
        from workers import kinds
        from workers.system import register_probe

        history.register()

        kinds.register("deploy", label="Deployment", queue="deploy", handler="serving.jobs.deploy_run",
                       notify_starter=True, describe="serving.job_names.deploy_describe",
                       may_manage="serving.permissions.can_manage_deploy_job")
        kinds.register("training_set_build", label="Training set build", queue="training",
                       handler="serving.feature_store.training_sets.training_set_build_run", notify_starter=True,
                       describe="serving.feature_store.training_sets.training_set_describe",
                       may_manage="registry.permissions.can_manage_project_job")
        kinds.register("prediction_drain", label="Prediction log drain", queue="monitoring",
                       handler="serving.jobs.prediction_drain_run", default_schedule="* * * * *", system=True)
        kinds.register("feature_materialize", label="Feature materialization", queue="default",
                       handler="serving.feature_store.materialize.materialize_run", notify_starter=True,
                       describe="serving.job_names.feature_describe",
                       may_manage="serving.permissions.can_manage_feature_job")
        kinds.register("feature_move", label="Feature tier move", queue="default",
                       handler="serving.feature_store.move.move_run", notify_starter=True,
                       describe="serving.job_names.feature_describe",
                       may_manage="serving.permissions.can_manage_feature_job")
        register_probe("serving", _probe_serving)


def _probe_serving() -> str:
    from serving import transport
    from serving.runtime import control

    replicas = control.replicas_list(transport.client())
    if not replicas:
        return "no serving replica is running (start python -m serving.runtime)"
    return f"{len(replicas)} replica(s): " + ", ".join(f"{r.get('host')}:{r.get('port')}" for r in replicas)
