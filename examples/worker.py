"""An external agent's worker that counts the words of its input's "text".

    PYTHONPATH=clients/python/oxbow-worker OXBOW_URL=http://localhost:8080 OXBOW_WORKER_CREDENTIAL=oxw.… python3 examples/worker.py
"""
import os

from oxbow_worker import Worker

worker = Worker(os.environ.get("OXBOW_URL", "http://localhost:8080"), os.environ["OXBOW_WORKER_CREDENTIAL"])


@worker.handler
def count_words(task):
    return {"words": len(str(task.input.get("text", "")).split())}


worker.run()
