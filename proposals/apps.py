from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "proposals"
    verbose_name = "Proposals and ML Council"

    def ready(self) -> None:
        from portal import duties
        from proposals import history
        from proposals.selectors import open_duties_of
        from workers import kinds

        history.register()
        duties.register("proposals", open_duties_of)

        # The minutes email goes to everyone involved: only an administrator may stop it.
        kinds.register("minutes_send", label="Minutes email", queue="default",
                       handler="proposals.minutes.minutes_send_run", system=True)
        # Meetings are also created on demand when a proposal reaches the Council; the schedule
        # keeps the next one and its agenda ready even in a quiet week.
        kinds.register("ml_review_schedule", label="ML Review scheduling", queue="default",
                       handler="proposals.jobs.ml_review_schedule_run", default_schedule="0 */6 * * *", system=True)
        kinds.register("chair_rotation", label="Chair rotation", queue="default",
                       handler="proposals.jobs.chair_rotation_run", default_schedule="15 0 * * *", system=True)
