import os

from flask import Flask, request

import himetrica
from himetrica.wsgi import HimetricaMiddleware

client = himetrica.Client(os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None)
# Queued before the workers fork: sent once, by the master. HM_PRELOAD_EVENTS > 1 keeps the
# master's flush thread busy while gunicorn forks.
for n in range(int(os.environ.get("HM_PRELOAD_EVENTS", "1"))):
    client.track("preloaded", visitor_id=f"gunicorn-master-{n % 50}", properties={"n": n})

app = Flask(__name__)


@app.route("/items/<int:item_id>")
def item(item_id):
    request.environ["himetrica"].track("viewed_item", properties={"item": item_id, "pid": os.getpid()})
    return "ok"


@app.route("/boom")
def boom():
    raise RuntimeError("boom")


HimetricaMiddleware.install_flask(app, client, track_requests=True)
