"""Bolt's own WSGI adapter for Slack's endpoint, with one fault of Bolt's mended.

Bolt (slack_bolt/request/internals.py, `parse_body`) takes any form body that holds the word
"payload" for an interaction's (`payload=<json>`), and when it finds no such field reads the
body as empty: `/liaison tp payload`, or any command whose text says "payload", was answered
404 "unhandled request" and never reached its listener. Such a form is read whole here, as
`parse_qsl` reads every other command, and Bolt dispatches it as usual (its signature check
included: the raw body is the one Slack signed). A copy Bolt makes for a lazy listener
(`BoltRequest.to_copyable`) parses the raw body again, Bolt's way; Liaison has none.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse


class BoltWsgi(SlackRequestHandler):
    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(body=request.get_body(), query=request.query_string,
                                   headers=request.get_headers())
        raw = bolt_request.raw_body
        if (not bolt_request.body and "payload" in raw and not raw.startswith("{")
                and bolt_request.content_type != "application/json"):
            fields = dict(parse_qsl(raw, keep_blank_values=True))
            if "payload" not in fields:  # a form with no interaction in it: a command's
                bolt_request.body = fields
                bolt_request.context = build_context(BoltContext({}), fields)
        return self.app.dispatch(bolt_request)
