"""A fake DingTalk for tests: the Stream gateway (HTTP + WebSocket) and the OpenAPI, on
127.0.0.1, in threads of its own.

The unmodified dingtalk-stream SDK connects to it exactly as to DingTalk: it POSTs
/v1.0/gateway/connections/open with the client id and secret, gets an endpoint and a ticket,
and opens the WebSocket. The test pushes robot messages and system frames down that socket
and reads what came back: ACKs, session-webhook replies, and OpenAPI calls (access token,
groupMessages/send, oToMessages/batchSend), each recorded with its headers and body.

Files: the older API's "上传媒体文件" (`POST /media/upload?access_token=…`, multipart/form-data
with the file as `media` and `type` image | voice | video | file; answers errcode-style
`{"errcode": 0, "errmsg": "ok", "type", "media_id", "created_at"}`; 40014 不合法的access_token;
a `file` must be doc, docx, xls, xlsx, ppt, pptx, zip, pdf or rar and at most 20 MB; a missing
`media` or `type` is refused). A robot file message is msgKey `sampleFile` with msgParam
`mediaId`, `fileName` and `fileType` ("企业机器人发送消息的消息类型"; fileType xlsx, pdf, zip,
rar, doc or docx); a mediaId this fake never issued is refused. Uploaded files are in
`fake.media` (media_id -> (filename, bytes)).

Files people send the robot: a `picture` message carries `content.downloadCode`, a `file`
message `content.downloadCode` and `content.fileName` (dingtalk-stream's ChatbotMessage reads
the picture's). "下载机器人接收消息的文件内容" (`POST /v1.0/robot/messageFiles/download`,
body `downloadCode` and `robotCode`, header x-acs-dingtalk-access-token) answers
`{"downloadUrl": …}`, which a GET then fetches. The fake refuses a bad token (400
InvalidAuthentication), a robotCode not its own and a downloadCode it never issued (400
invalidParameter: the codes are the fake's choice, the docs list parameter errors as
invalidParameter), and serves each downloadUrl on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.sync.server import ServerConnection, serve

ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
ROBOT_ID = "$:LWCP_v1:$robot"
WEBHOOK_EXPIRED = 300001  # what the fake answers on an expired session webhook
# The new API's errors are `{"code", "message", "requestid"}` with a 4xx status (DingTalk's
# global error codes): an invalid or expired token is 400 InvalidAuthentication "不合法的
# access_token"; throttling ("附录B：如何处理钉钉服务端API限流") is 403
# Forbidden.AccessDenied.QpsLimitForApi / QpsLimitForAppkeyAndApi / QpmLimit…, and the API
# error tables list 400 qps.exceed.limit / request.overlimit ("请求过于频繁").
THROTTLE_STATUS = {"qps.exceed.limit": 400, "request.overlimit": 400}
# msgParam fields of each robot message type ("企业机器人发送消息的消息类型": sampleMarkdown
# title+text; sampleActionCard title, text, singleTitle, singleURL; sampleActionCard2..5
# title, text and actionTitleN/actionURLN for N buttons; a button title at most 20 characters,
# a URL at most 500).
MSG_KEYS = {"sampleText": 0, "sampleMarkdown": 0, "sampleActionCard": 1,
            "sampleActionCard2": 2, "sampleActionCard3": 3, "sampleActionCard4": 4,
            "sampleActionCard5": 5, "sampleFile": 0, "sampleImageMsg": 0}
# An image message (sampleImageMsg) names its picture in `photoURL`: an address, or the
# media_id an image upload ("上传媒体文件", type image: jpg, gif, png, bmp, at most 1 MB)
# handed out.
IMAGE_UPLOAD_TYPES = {"jpg", "jpeg", "gif", "png", "bmp"}
IMAGE_LIMIT = 1024 * 1024
MEDIA_TYPES = {"image", "voice", "video", "file"}
FILE_UPLOAD_TYPES = {"doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "pdf", "rar"}
FILE_MESSAGE_TYPES = {"xlsx", "pdf", "zip", "rar", "doc", "docx"}
MEDIA_LIMIT = 20 * 1024 * 1024


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: dict[str, list[str]] = field(default_factory=dict)


class FakeDingTalk:
    def __init__(self, client_id: str = "ding-test-app", client_secret: str = "s3cret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.reset()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._ws = serve(self._on_socket, "127.0.0.1", 0)
        self.http_port = self._http.server_address[1]
        self.ws_port = self._ws.socket.getsockname()[1]
        self._threads = [
            # A short poll interval: stop() returns within 50 ms instead of up to 500.
            threading.Thread(target=self._http.serve_forever, args=(0.05,),
                             name="fake-dingtalk-http", daemon=True),
            threading.Thread(target=self._ws.serve_forever, name="fake-dingtalk-ws", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def reset(self) -> None:
        """Forget everything recorded and close open sockets; behaviours back to normal."""
        for conn in list(getattr(self, "sockets", [])):
            try:
                conn.close()
            except Exception:
                pass
        with self.lock:
            self.calls: list[Call] = []
            self.opened: list[dict[str, Any]] = []  # bodies of connections/open
            self.tickets: set[str] = set()
            self.sockets: list[ServerConnection] = []
            self.connected_tickets: list[str] = []
            self.acks: list[dict[str, Any]] = []
            self.tokens: list[str] = []
            self.revoked: set[str] = set()  # tokens DingTalk no longer accepts
            self.token_lifetime = 7200
            self.groups: set[str] = set()  # groups the robot is in
            self.expired_webhooks: set[str] = set()
            # Scripted answers for the next batchSend calls: the last user of the call is
            # listed as "flow" (flowControlledStaffIdList), "filtered" or "invalid".
            self.batch_trouble: list[str] = []
            # Scripted refusals of the next robot sends (group or batch), by DingTalk code.
            self.refuse: list[str] = []
            self.open_failures = 0  # the next connections/open calls that answer 503
            self.open_gate: threading.Event | None = None  # connections/open waits for it
            self.media: dict[str, tuple[str, bytes]] = {}  # media_id -> (filename, bytes)
            # downloadCode -> (bytes, media type): files people sent the robot
            self.message_files: dict[str, tuple[bytes, str]] = {}
            self.download_links: dict[str, str] = {}  # path of a downloadUrl -> downloadCode
            self.changed.notify_all()

    def stop(self) -> None:
        self._ws.shutdown()
        self._http.shutdown()
        self._http.server_close()

    # -- what the test looks at -------------------------------------------------------------------

    def calls_to(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def webhook_texts(self) -> list[str]:
        """What each session-webhook answer shows: its markdown, or an action card's text
        followed by its buttons, one `[title](actionURL)` a line."""
        texts = []
        for call in self.calls_to("/robot/sendBySession"):
            body = call.body
            if body["msgtype"] == "actionCard":
                card = body["actionCard"]
                buttons = [f"[{b['title']}]({b['actionURL']})" for b in card["btns"]]
                texts.append("\n".join([card["text"], *buttons]))
            else:
                texts.append(body["markdown"]["text"])
        return texts

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until predicate() is truthy (re-checked on every change); its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("fake DingTalk: condition not met in time")
            with self.changed:
                self.changed.wait(min(left, 0.05))

    # -- what the test does ------------------------------------------------------------------------

    def robot_message(
        self,
        text: str,
        *,
        user: str,
        nick: str = "",
        group: str | None = None,
        msg_id: str | None = None,
        webhook_ttl: float = 3600.0,
        at_users: list[dict[str, str]] | None = None,
        msgtype: str = "text",
    ) -> dict[str, Any]:
        """The `data` of a robot message as DingTalk sends it."""
        now_ms = int(time.time() * 1000)
        session = uuid.uuid4().hex
        data: dict[str, Any] = {
            "conversationId": group or f"cid-dm-{user}",
            "chatbotCorpId": "ding-corp",
            "chatbotUserId": ROBOT_ID,
            "msgId": msg_id or f"msg{uuid.uuid4().hex}",
            "senderNick": nick or user,
            "isAdmin": False,
            "senderStaffId": user,
            "sessionWebhookExpiredTime": now_ms + int(webhook_ttl * 1000),
            "createAt": now_ms,
            "senderCorpId": "ding-corp",
            "conversationType": "2" if group else "1",
            "senderId": f"$:LWCP_v1:${user}",
            "sessionWebhook": f"{self.endpoint}/robot/sendBySession?session={session}",
            "robotCode": self.client_id,
            "msgtype": msgtype,
        }
        if msgtype == "text":
            data["text"] = {"content": text}
        elif msgtype == "picture":
            data["content"] = {"downloadCode": text, "pictureDownloadCode": text}
        if group:
            data["conversationTitle"] = "测试群"
            data["isInAtList"] = True
            data["atUsers"] = [{"dingtalkId": ROBOT_ID}, *(at_users or [])]
        return data

    def add_message_file(self, data: bytes, mime: str) -> str:
        """A file someone sends the robot, as DingTalk keeps it: its downloadCode."""
        code = "dc" + uuid.uuid4().hex
        with self.lock:
            self.message_files[code] = (data, mime)
        return code

    def file_message(self, name: str, code: str, *, user: str) -> dict[str, Any]:
        """The data of a `file` robot message (a file sent in the one-to-one chat)."""
        data = self.robot_message("", user=user, msgtype="file")
        data["content"] = {"downloadCode": code, "fileName": name,
                           "spaceId": "1", "fileId": uuid.uuid4().hex}
        return data

    def download(self, path: str) -> tuple[int, str, bytes]:
        """GET of a downloadUrl."""
        with self.changed:
            self.calls.append(Call("GET " + path, {}, {}))
            self.changed.notify_all()
            code = self.download_links.get(path)
            if code is None or code not in self.message_files:
                return 404, "text/plain", b"not found"
            data, mime = self.message_files[code]
            return 200, mime, data

    def send_robot_message(self, text: str, **kw: Any) -> dict[str, Any]:
        data = self.robot_message(text, **kw)
        self.push_callback(data)
        return data

    def push_callback(self, data: dict[str, Any], *, frame_id: str | None = None) -> str:
        frame_id = frame_id or uuid.uuid4().hex
        self.push({
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": "app", "connectionId": "conn", "contentType": "application/json",
                "messageId": frame_id, "time": str(int(time.time() * 1000)), "topic": ROBOT_TOPIC,
            },
            "data": json.dumps(data, ensure_ascii=False),
        })
        return frame_id

    def push_system(self, topic: str, data: dict[str, Any] | None = None) -> str:
        frame_id = uuid.uuid4().hex
        self.push({
            "specVersion": "1.0",
            "type": "SYSTEM",
            "headers": {"contentType": "application/json", "messageId": frame_id,
                        "time": str(int(time.time() * 1000)), "topic": topic},
            "data": json.dumps(data or {}),
        })
        return frame_id

    def push(self, frame: dict[str, Any]) -> None:
        with self.lock:
            sockets = list(self.sockets)
        assert sockets, "no client is connected to the fake DingTalk"
        sockets[-1].send(json.dumps(frame, ensure_ascii=False))

    def expire_webhook(self, data: dict[str, Any]) -> None:
        session = parse_qs(urlparse(data["sessionWebhook"]).query)["session"][0]
        with self.lock:
            self.expired_webhooks.add(session)

    def revoke_tokens(self) -> None:
        """DingTalk stops accepting every token issued so far (expired early, or revoked)."""
        with self.lock:
            self.revoked.update(self.tokens)

    def sent_params(self, path: str) -> list[dict[str, Any]]:
        """The msgParam of each call to a robot send, parsed."""
        return [json.loads(c.body["msgParam"]) for c in self.calls_to(path)]

    def sent_files(self) -> list[tuple[str, str, bytes]]:
        """Each file message sent by the robot: (where, fileName, the uploaded bytes); where is
        the group's openConversationId or the user ids joined by commas."""
        found = []
        for path in ("/v1.0/robot/groupMessages/send", "/v1.0/robot/oToMessages/batchSend"):
            for call in self.calls_to(path):
                if call.body.get("msgKey") != "sampleFile":
                    continue
                param = json.loads(call.body["msgParam"])
                where = call.body.get("openConversationId") or ",".join(call.body["userIds"])
                found.append((where, param["fileName"], self.media[param["mediaId"]][1]))
        return found

    def sent_images(self) -> list[tuple[str, bytes]]:
        """Each image message sent by the robot: (where, the uploaded bytes)."""
        found = []
        for path in ("/v1.0/robot/groupMessages/send", "/v1.0/robot/oToMessages/batchSend"):
            for call in self.calls_to(path):
                if call.body.get("msgKey") != "sampleImageMsg":
                    continue
                photo = json.loads(call.body["msgParam"])["photoURL"]
                where = call.body.get("openConversationId") or ",".join(call.body["userIds"])
                found.append((where, self.media[photo][1]))
        return found

    def ack_for(self, frame_id: str) -> dict[str, Any] | None:
        with self.lock:
            return next((a for a in self.acks if a["headers"].get("messageId") == frame_id), None)

    # -- the WebSocket side -----------------------------------------------------------------------

    def _on_socket(self, conn: ServerConnection) -> None:
        query = parse_qs(urlparse(conn.request.path).query if conn.request else "")
        ticket = (query.get("ticket") or [""])[0]
        with self.changed:
            if ticket not in self.tickets:
                conn.close(code=4001, reason="bad ticket")
                return
            self.tickets.discard(ticket)  # a ticket opens one connection
            self.connected_tickets.append(ticket)
            self.sockets.append(conn)
            self.changed.notify_all()
        try:
            for raw in conn:
                with self.changed:
                    self.acks.append(json.loads(raw))
                    self.changed.notify_all()
        except Exception:
            pass
        finally:
            with self.changed:
                if conn in self.sockets:
                    self.sockets.remove(conn)
                self.changed.notify_all()

    # -- the HTTP side ----------------------------------------------------------------------------

    def _http_call(self, path: str, query: dict[str, list[str]], headers: dict[str, str],
                   body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        gate = self.open_gate
        if path == "/v1.0/gateway/connections/open" and gate is not None:
            with self.changed:
                self.calls.append(Call(path + "#held", headers, body, query))
                self.changed.notify_all()
            gate.wait(30)  # a gateway that does not answer
        with self.changed:
            self.calls.append(Call(path, headers, body, query))
            self.changed.notify_all()
            return self._answer(path, query, headers, body)

    def _answer(self, path, query, headers, body):  # noqa: ANN001, ANN202, C901
        if path == "/v1.0/gateway/connections/open" and self.open_failures > 0:
            self.open_failures -= 1
            return 503, {"code": "ServiceUnavailable"}, {}
        if path == "/v1.0/gateway/connections/open":
            if (body.get("clientId"), body.get("clientSecret")) != (
                self.client_id, self.client_secret
            ):
                return 401, {"code": "InvalidAuthentication"}, {}
            self.opened.append(body)
            ticket = uuid.uuid4().hex
            self.tickets.add(ticket)
            return 200, {"endpoint": f"ws://127.0.0.1:{self.ws_port}/connect",
                         "ticket": ticket}, {}
        if path == "/v1.0/oauth2/accessToken":
            if (body.get("appKey"), body.get("appSecret")) != (
                self.client_id, self.client_secret
            ):
                return 400, {"code": "invalidClientIdOrSecret"}, {}
            token = f"token-{len(self.tokens) + 1}"
            self.tokens.append(token)
            return 200, {"accessToken": token, "expireIn": self.token_lifetime}, {}
        if path == "/media/upload":
            return self._media_upload(query, body)
        if path == "/v1.0/robot/messageFiles/download":
            token = headers.get("x-acs-dingtalk-access-token")
            if token not in self.tokens or token in self.revoked:
                return 400, _error("InvalidAuthentication", "不合法的access_token"), {}
            if body.get("robotCode") != self.client_id:
                return 400, _error("invalidParameter", "robotCode"), {}
            code = body.get("downloadCode")
            if code not in self.message_files:
                return 400, _error("invalidParameter", "downloadCode"), {}
            link = f"/download/{uuid.uuid4().hex}"
            self.download_links[link] = code
            return 200, {"downloadUrl": self.endpoint + link}, {}
        if path == "/robot/sendBySession":
            session = (query.get("session") or [""])[0]
            if session in self.expired_webhooks:
                return 200, {"errcode": WEBHOOK_EXPIRED, "errmsg": "session expired"}, {}
            return self._webhook(body)
        if path in ("/v1.0/robot/groupMessages/send", "/v1.0/robot/oToMessages/batchSend"):
            token = headers.get("x-acs-dingtalk-access-token")
            if token not in self.tokens or token in self.revoked:
                return 400, _error("InvalidAuthentication", "不合法的access_token"), {}
            if self.refuse:
                code = self.refuse.pop(0)
                return THROTTLE_STATUS.get(code, 403), _error(code, "请求过于频繁"), {}
            refused = self._message_refused(body)
            if refused:
                return 400, _error("invalidParameter", refused), {}
        if path == "/v1.0/robot/groupMessages/send":
            if len(body["msgParam"].encode()) > 15000:  # "must not exceed 15,000 bytes"
                return 400, _error("invalidParameter", "msgParam too long"), {}
            if body.get("openConversationId") not in self.groups:
                return 400, _error("resource.not.found", "robot is not in this group"), {}
            return 200, {"processQueryKey": uuid.uuid4().hex}, {}
        if path == "/v1.0/robot/oToMessages/batchSend":
            # "批量发送人与机器人会话中机器人消息": up to 20 userIds; the answer is the
            # processQueryKey and who was not reached: invalidStaffIdList and
            # flowControlledStaffIdList (the SDK's BatchSendOTOResponseBody), and
            # filteredStaffIdList (reported by other integrations of this API).
            users = body.get("userIds") or []
            if not 0 < len(users) <= 20:
                return 400, _error("invalidParameter.userIds", "1 to 20 userIds"), {}
            trouble = self.batch_trouble.pop(0) if self.batch_trouble else ""
            lists: dict[str, list[str]] = {"flow": [], "filtered": [], "invalid": []}
            if trouble:
                lists[trouble] = users[-1:]
            return 200, {"processQueryKey": uuid.uuid4().hex,
                         "invalidStaffIdList": lists["invalid"],
                         "flowControlledStaffIdList": lists["flow"],
                         "filteredStaffIdList": lists["filtered"]}, {}
        return 404, {"code": "notFound"}, {}


    def _media_upload(self, query: dict[str, list[str]],
                      body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        token = (query.get("access_token") or [""])[0]
        if token not in self.tokens or token in self.revoked:
            return 200, {"errcode": 40014, "errmsg": "不合法的access_token"}, {}
        kind, media = body.get("type"), body.get("media")
        if kind not in MEDIA_TYPES or not isinstance(media, tuple):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 type/media"}, {}
        filename, data = media
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if kind == "file" and extension not in FILE_UPLOAD_TYPES:
            return 200, {"errcode": 40005, "errmsg": "不合法的文件类型"}, {}
        if kind == "image" and (extension not in IMAGE_UPLOAD_TYPES or len(data) > IMAGE_LIMIT):
            return 200, {"errcode": 40005, "errmsg": "不合法的文件类型"}, {}
        if len(data) > MEDIA_LIMIT or not data:
            return 200, {"errcode": 40006, "errmsg": "不合法的文件大小"}, {}
        media_id = "@lA" + uuid.uuid4().hex
        self.media[media_id] = (filename, data)
        return 200, {"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id,
                     "created_at": int(time.time() * 1000)}, {}

    def _message_refused(self, body: dict[str, Any]) -> str:
        """Why DingTalk would refuse this robot message, or "" when it takes it."""
        if body.get("robotCode") != self.client_id:
            return "robotCode"
        if not isinstance(body.get("msgParam"), str):
            return "msgParam must be a JSON string"
        try:
            param = json.loads(body["msgParam"])
        except ValueError:
            return "msgParam is not JSON"
        key = body.get("msgKey")
        if key not in MSG_KEYS or not isinstance(param, dict):
            return f"msgKey {key}"
        buttons = MSG_KEYS[key]
        if key == "sampleImageMsg":
            needed = ["photoURL"]
            photo = str(param.get("photoURL") or "")
            if not (photo.startswith(("http://", "https://")) or photo in self.media):
                return "photoURL is neither an address nor a media id"
        elif key == "sampleFile":
            needed = ["mediaId", "fileName", "fileType"]
            if param.get("mediaId") not in self.media:
                return "mediaId unknown"
            if param.get("fileType") not in FILE_MESSAGE_TYPES:
                return f"fileType {param.get('fileType')}"
        elif key == "sampleText":
            needed = ["content"]
        elif buttons == 0:
            needed = ["title", "text"]
        elif buttons == 1:
            needed = ["title", "text", "singleTitle", "singleURL"]
        else:
            needed = ["title", "text"] + [f"action{f}{n}" for n in range(1, buttons + 1)
                                          for f in ("Title", "URL")]
        missing = [f for f in needed if not isinstance(param.get(f), str) or not param[f]]
        if missing:
            return f"missing {missing}"
        titles = [v for k, v in param.items() if k in ("singleTitle",) or
                  k.startswith("actionTitle")]
        urls = [v for k, v in param.items() if k == "singleURL" or k.startswith("actionURL")]
        if any(len(t) > 20 for t in titles) or any(len(u) > 500 for u in urls):
            return "button title over 20 characters or URL over 500"
        return ""

    def _webhook(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A session webhook takes the custom robot's message types ("自定义机器人发送群消息":
        text, markdown with `at.atUserIds`, actionCard with `btns` of title and actionURL;
        that actionCard works through a session webhook rests on third-party reports, while
        the SDK's interactive cards do not) and answers errcode-style."""
        kind = body.get("msgtype")
        content = body.get(kind) if isinstance(kind, str) else None
        at = body.get("at", {})
        if not isinstance(content, dict) or not isinstance(at, dict):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 json"}, {}
        if kind == "markdown" and not (content.get("title") and content.get("text")):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 title/text"}, {}
        if kind == "actionCard" and not (content.get("title") and content.get("text") and (
                content.get("btns") or content.get("singleURL"))):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 btns"}, {}
        ids = at.get("atUserIds", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return 200, {"errcode": 40035, "errmsg": "atUserIds"}, {}
        return 200, {"errcode": 0, "errmsg": "ok"}, {}


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message, "requestid": uuid.uuid4().hex.upper()}


def _form(raw: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body: fields as text, files as (filename, bytes)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[str(name)] = (filename, payload) if filename is not None else \
            payload.decode("utf-8")
    return fields


def _handler(fake: FakeDingTalk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The handler writes the headers and the body of an answer in two sends; on a kept-alive
        # connection (the adapter's requests.Session) Nagle's algorithm held the body until the
        # client's delayed ACK of the headers, 40 ms later: every call took 45 ms here, which
        # no DingTalk server adds. TCP_NODELAY sends each part at once.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            status, kind, data = fake.download(urlparse(self.path).path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "")
            try:
                body = _form(raw, ctype) if "multipart/form-data" in ctype else \
                    json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = fake._http_call(url.path, parse_qs(url.query), headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


_shared: FakeDingTalk | None = None


def shared() -> FakeDingTalk:
    """The fake every in-process test uses: the SDK reads its endpoint once per process, at
    import, so all of them must talk to the same one."""
    global _shared
    if _shared is None:
        _shared = FakeDingTalk()
    return _shared
