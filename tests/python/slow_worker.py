"""A worker whose handler works until its attempt is over, saying so on stdout: `started <run>`
when it takes a task, `over <run>` when the SDK tells it the attempt ended (a cancel). Extends
its lease every half second, so it hears of the end soon."""

import os
import sys

from oxbow_worker import Worker

worker = Worker(os.environ["OXBOW_URL"], os.environ["OXBOW_WORKER_CREDENTIAL"], extend_every=0.5)


@worker.handler
def work_until_over(task):
    print("started", task.run_id, flush=True)
    if task.over.wait(60):
        print("over", task.run_id, flush=True)
    return {"finished": True}


worker.run()
