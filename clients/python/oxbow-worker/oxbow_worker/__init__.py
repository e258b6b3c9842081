"""Workers for Oxbow's external agents, on the task lease (``POST /v1/tasks/lease``).

A worker holds its agent's credential (``oxw.…``, from ``IssueWorkerCredential``). It leases
that agent's tasks, keeps each lease while its handler works (``POST /v1/tasks/extend``), and
reports the outcome (``CompleteStep`` or ``FailStep``) under an idempotency key, so a report
retried after a lost answer counts once. When the attempt is over before the handler is (the
run was cancelled, the step timed out), ``task.over`` is set and nothing is reported::

    from oxbow_worker import Worker

    worker = Worker("http://localhost:8080", credential)

    @worker.handler
    def count_words(task):
        return {"words": len(str(task.input.get("text", "")).split())}

    worker.run()

A handler returns the step's output, or a :class:`Completed` with usage and artifacts; it
raises :class:`Failed` to fail the attempt (``retryable`` as it says), and any other exception
fails it retryably. Only the standard library is used.
"""

from .worker import Completed, Failed, Task, Worker
from .webhooks import WebhookVerificationError, verify

__all__ = ["Completed", "Failed", "Task", "Worker", "WebhookVerificationError", "verify"]
