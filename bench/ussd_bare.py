"""The baseline of the USSD load benchmark: a bare Flask app answering `CON hello` to every hop."""

from __future__ import annotations

from flask import Flask, Response

app = Flask(__name__)


@app.post("/ussd")
def ussd() -> Response:
    return Response("CON hello", mimetype="text/plain")
