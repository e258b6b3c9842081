"""The worker loop: lease, keep, report."""

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .transport import Client, Problem

log = logging.getLogger("oxbow_worker")

#: How long a lease lasts on the server; it is extended well before.
LEASE_SECONDS = 30.0


@dataclass
class Task:
    """One attempt of a step, as the lease hands it over."""

    run_id: str
    workspace_id: str
    agent_id: str
    step_id: str
    attempt: int
    input: Any
    #: RFC 3339: a report after it is refused.
    deadline: str
    #: The trace the task was offered in, where Oxbow traces: the reports continue it.
    traceparent: Optional[str] = None
    #: Set when the attempt is over before the handler is: cancelled, timed out, taken back.
    over: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def key(self):
        """Names the attempt: the same on every delivery of it."""
        return f"{self.run_id}:{self.step_id}:{self.attempt}"

    @classmethod
    def of(cls, leased):
        """The task a lease's answer describes (fields it does not know are left out)."""
        names = ("run_id", "workspace_id", "agent_id", "step_id", "attempt", "input", "deadline", "traceparent")
        return cls(**{name: leased.get(name) for name in names})


@dataclass
class Completed:
    """A handler's answer with more than the output."""

    output: Any = None
    input_tokens: int = 0
    output_tokens: int = 0
    #: ``{"name", "media_type", "size", "sha256", "uri"}`` each: metadata, never the bytes.
    artifacts: list = field(default_factory=list)


class Failed(Exception):
    """Fails the attempt; a retryable failure is tried again as the step's retry policy says."""

    def __init__(self, error, retryable=False):
        super().__init__(error)
        self.error = str(error)
        self.retryable = retryable


class Worker:
    """Leases its agent's tasks and hands each to the handler, ``concurrency`` at a time."""

    def __init__(self, base_url, credential, concurrency=1, extend_every=LEASE_SECONDS / 3):
        self.client = Client(base_url, credential)
        self.concurrency = concurrency
        self.extend_every = extend_every
        self._handler: Optional[Callable[[Task], Any]] = None
        self._stopping = threading.Event()

    def handler(self, function):
        """Decorates the function that carries out a task."""
        self._handler = function
        return function

    def stop(self):
        """Takes no new task; the ones under way finish and are reported."""
        self._stopping.set()

    def run(self):
        """Leases and carries out tasks until :meth:`stop`."""
        if self._handler is None:
            raise RuntimeError("no handler: decorate one with @worker.handler")
        slots = threading.Semaphore(self.concurrency)
        while not self._stopping.is_set():
            slots.acquire()
            try:
                leased = self.client.post("/v1/tasks/lease", {"max": 1, "wait_ms": 20_000})
            except Exception:
                slots.release()
                log.exception("leasing failed; trying again")
                self._stopping.wait(1.0)
                continue
            tasks = [Task.of(leased_task) for leased_task in leased.get("tasks", [])]
            if not tasks:
                slots.release()
                continue
            for task in tasks:
                threading.Thread(target=self._carry_out, args=(task, slots), daemon=True).start()

    def run_once(self, task):
        """Carries out one leased task and reports it (what :meth:`run` does for each)."""
        done = threading.Event()
        threading.Thread(target=self._keep, args=(task, done), daemon=True).start()
        try:
            report = self._report_of(task)
        finally:
            done.set()
        if task.over.is_set():
            log.info("attempt %s is over; not reporting it", task.key)
            return
        try:
            self.client.post("/v1/commands", report, idempotency_key=f"{task.key}:report", traceparent=task.traceparent)
        except Problem as problem:
            # The run refused it: the attempt ended meanwhile. Nothing to do again.
            log.warning("the report of %s was refused: %s", task.key, problem)

    def _carry_out(self, task, slots):
        try:
            self.run_once(task)
        except Exception:
            log.exception("reporting %s failed; its lease runs out and it is offered again", task.key)
        finally:
            slots.release()

    def _keep(self, task, done):
        """Extends the lease until the handler is done; sets ``task.over`` if the attempt ends."""
        while not done.wait(self.extend_every):
            body = {"run_id": task.run_id, "step_id": task.step_id, "attempt": task.attempt}
            try:
                self.client.post("/v1/tasks/extend", body)
            except Problem as problem:
                if problem.code == "attempt_over":
                    task.over.set()
                    return
                log.warning("extending %s failed: %s", task.key, problem)
            except Exception:
                log.exception("extending %s failed", task.key)

    def _report_of(self, task):
        envelope = {"id": task.run_id}
        try:
            answer = self._handler(task)
        except Failed as failure:
            payload = {"step_id": task.step_id, "attempt": task.attempt, "error": failure.error[:2000],
                       "retryable": failure.retryable}
            return {**envelope, "type": "FailStep", "payload": payload}
        except Exception as error:  # A handler's bug is a retryable failure, not a dead worker.
            log.exception("the handler failed on %s", task.key)
            payload = {"step_id": task.step_id, "attempt": task.attempt, "error": repr(error)[:2000],
                       "retryable": True}
            return {**envelope, "type": "FailStep", "payload": payload}
        completed = answer if isinstance(answer, Completed) else Completed(output=answer)
        payload = {
            "step_id": task.step_id,
            "attempt": task.attempt,
            "output": completed.output,
            "usage": {"input_tokens": completed.input_tokens, "output_tokens": completed.output_tokens},
        }
        if completed.artifacts:
            payload["artifacts"] = completed.artifacts
        return {**envelope, "type": "CompleteStep", "payload": payload}
