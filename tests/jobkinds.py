"""Job kinds that exist only for testing the job runtime itself.

A real worker process imports this module (``celery worker --include tests.jobkinds``) so
the tests can watch a job that takes as long as they need.
"""

import time

from workers import kinds

kinds.register("test_sleep", label="Test sleep", queue="default", handler="tests.jobkinds.sleep_run")
kinds.register("test_fail", label="Test failure", queue="training", handler="tests.jobkinds.fail_run")


def sleep_run(job):
    steps = int(job.params.get("steps", 10))
    pause = float(job.params.get("pause", 0.2))
    for i in range(steps):
        job.progress(100 * i / steps, f"Step {i + 1} of {steps}")
        job.log(f"step {i + 1}")
        time.sleep(pause)
    return {"steps": steps}


def fail_run(job):
    job.progress(10, "About to fail")
    raise ValueError(job.params.get("reason", "the input column 'price' does not exist"))
