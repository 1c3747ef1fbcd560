"""A Flask app whose gunicorn workers share one spool (HM_SPOOL): each request tracks one event."""

import os

from flask import Flask

import himetrica

client = himetrica.Client(
    os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"], spool=os.environ["HM_SPOOL"],
    rate_limit_track=os.environ.get("HM_LIMIT", "60/5"),
)

app = Flask(__name__)


@app.route("/t/<int:n>")
def tracked(n):
    client.track("spooled", visitor_id="v%d" % (n % 5), properties={"n": n})
    return str(os.getpid())
