"""HTTP mode: Slack's events at /slack/events through Bolt's WSGI adapter, plus a health check."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

EVENTS_PATH = "/slack/events"


def wsgi_app(app: App):
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        return slack(environ, start_response)

    return application


def serve(app: App, host: str, port: int) -> None:
    import waitress

    waitress.serve(wsgi_app(app), host=host, port=port, threads=16, ident="mms-bot", clear_untrusted_proxy_headers=True)
