"""gunicorn settings for test_fork.py: each worker tracks once right after its fork, so the
test sees that all 4 forked workers could use the client the master created (and was using)."""

import os


def post_fork(server, worker):
    import flask_app  # already imported by the master (--preload): the worker's copy

    flask_app.client.track("worker_forked", visitor_id=f"worker-{os.getpid()}", properties={"pid": os.getpid()})
