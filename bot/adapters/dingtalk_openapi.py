"""DingTalk's OpenAPI, for what the Stream SDK does not do: proactive messages.

A robot can answer a message through that message's `sessionWebhook`, but a reminder has no
message to answer, and a webhook expires. For those the robot calls the OpenAPI with an app
access token: `groupMessages/send` for a group (by its openConversationId) and
`oToMessages/batchSend` for people (up to 20 user ids a call). Errors are translated here,
once, into DeliveryError, by the codes DingTalk documents (the new API answers 4xx/5xx with
`{"code": …, "message": …}`; branch on the code, not the status):
- an invalid or expired access token is HTTP 400 `InvalidAuthentication` ("不合法的
  access_token"; also `accesstoken.expired`, and a plain 401): the token is fetched again and
  the call made once more;
- throttling ("附录B：如何处理钉钉服务端API限流"): 403 `Forbidden.AccessDenied.QpsLimitForApi`,
  `…QpsLimitForAppkeyAndApi` (one second), `…QpmLimit…` (a minute), the IP ban answered as
  `{"punish": "deny"}` (five minutes), and 400 `qps.exceed.limit` / `request.overlimit` /
  `oaplus.query.limit` ("请求过于频繁"). These are temporary, and they hold back the whole
  robot: the delivery worker pauses every call of the robot until the pause is over;
- 429 and 5xx, timeouts and unreachable hosts are temporary too;
- any other code is permanent, and the reason names it: `dingtalk:<status>:<code>`.

Files: DingTalk's robot sends a file as a `sampleFile` message naming a `mediaId`, which the
"上传媒体文件" API (`POST https://oapi.dingtalk.com/media/upload?access_token=…`, multipart:
the file as `media`, `type` = image | voice | video | file) hands out. That older API answers
errcode-style (`{"errcode": 0, "media_id": …}`; 40014 不合法的access_token, 42001
access_token超时). It takes the same app access token: dingtalk-stream's own
`upload_to_dingtalk` sends the token from /v1.0/oauth2/accessToken there, with the file as
`media` and `type` as a form field, which is what `upload_media` does too (the SDK's function
cannot be pointed at another host, so it is not called).

Files people send the robot (a picture or file message) carry a `downloadCode`. "下载机器人接收
消息的文件内容" (`POST /v1.0/robot/messageFiles/download` with `downloadCode` and `robotCode`,
the app token in the header) answers a `downloadUrl`, a temporary link fetched with a plain GET
(dingtalk-stream's `get_image_download_url` calls the same API).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from bot.errors import DeliveryError

log = logging.getLogger(__name__)

TOKEN_PATH = "/v1.0/oauth2/accessToken"
GROUP_PATH = "/v1.0/robot/groupMessages/send"
BATCH_PATH = "/v1.0/robot/oToMessages/batchSend"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
MEDIA_PATH = "/media/upload"
MESSAGE_FILE_PATH = "/v1.0/robot/messageFiles/download"
MARKDOWN = "sampleMarkdown"
FILE = "sampleFile"
OAPI_TOKEN_ERRORS = frozenset({40014, 42001})
BATCH_LIMIT = 20  # DingTalk refuses more user ids in one batchSend
TOKEN_CODES = frozenset({"InvalidAuthentication", "accesstoken.expired"})
THROTTLE_CODES = frozenset({"qps.exceed.limit", "request.overlimit", "oaplus.query.limit"})
QPS_PREFIX = "Forbidden.AccessDenied.QpsLimit"
QPM_PREFIX = "Forbidden.AccessDenied.QpmLimit"
PAUSE = 1.0  # "qps限流限制时间是1秒": a throttled robot waits at least this long
PAUSE_QPM = 60.0
PAUSE_IP = 300.0  # an IP over its limit is barred for five minutes
MAX_HOSTS = 64  # hosts whose environment settings are remembered (see OpenApi._environment)


@dataclass
class BatchResult:
    """Who a batchSend did not reach: throttled ids may be retried; invalid ids and ids
    DingTalk filtered out (`filteredStaffIdList`) never."""

    flow_controlled: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    filtered: list[str] = field(default_factory=list)


class WebhookRefused(Exception):
    """A session webhook would not take the message (expired, or the chat is gone); the
    caller falls back to the OpenAPI."""


class OpenApi:
    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        robot_code: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        oapi_endpoint: str = "https://oapi.dingtalk.com",
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.oapi_endpoint = oapi_endpoint.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code
        self.timeout = timeout
        self.clock = clock
        self.http = requests.Session()  # file downloads (whose links may redirect anywhere)
        # Messages: every POST goes to a DingTalk host. requests reads the environment's
        # settings (proxies and no_proxy, a CA bundle, ~/.netrc) on every call, walking the
        # whole environment twice: over a quarter of the CPU of a webhook answer (issue 22).
        # They are read once per host instead (`_environment`) and passed explicitly.
        self._posts = requests.Session()
        self._posts.trust_env = False
        self._environments: dict[tuple[str, str], dict[str, Any]] = {}
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        # Session-webhook answers, one per answer, where neither applies (`_post_direct`).
        ca = self._ca_bundle or requests.certs.where()
        self._pool = urllib3.PoolManager(
            num_pools=10, maxsize=10, retries=False, cert_reqs="CERT_REQUIRED",
            **({"ca_cert_dir": ca} if os.path.isdir(ca) else {"ca_certs": ca}))
        self._direct_headers = {**requests.utils.default_headers(),
                                "Content-Type": "application/json"}
        self._direct_timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    # -- access token ---------------------------------------------------------------------------

    def token(self) -> str:
        """The app access token, fetched once and renewed before it expires; one fetch at a
        time, so a burst of reminders does not ask for a burst of tokens."""
        with self._token_lock:
            now = self.clock()
            if self._token is not None and now < self._renew_at:
                return self._token
            try:
                body = self._post(
                    TOKEN_PATH, {"appKey": self.client_id, "appSecret": self.client_secret}, None
                )
            except DeliveryError as exc:
                # Even a refused secret is worth retrying: it is fixed by a setting and a
                # restart, and the reminders waiting meanwhile should then still go out.
                log.error("DingTalk refused an access token: %s", exc.reason)
                raise DeliveryError(
                    f"dingtalk_token:{exc.reason}", temporary=True,
                    retry_after=exc.retry_after or 60.0,
                ) from None
            token = body.get("accessToken")
            if not token:
                raise DeliveryError("dingtalk_token_missing", temporary=True)
            lifetime = float(body.get("expireIn") or 7200)
            # Renew well before expiry: a token must not die between fetching and using it.
            self._token = str(token)
            self._renew_at = now + max(lifetime - min(300.0, lifetime / 2), 0.0)
            return self._token

    def forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    # -- sending --------------------------------------------------------------------------------

    def send_group(self, open_conversation_id: str, msg_key: str, param: str) -> None:
        """`param` is the message's msgParam, already a JSON string."""
        self._authorised(GROUP_PATH, {
            "robotCode": self.robot_code,
            "openConversationId": open_conversation_id,
            "msgKey": msg_key,
            "msgParam": param,
        })

    def send_users(self, user_ids: Sequence[str], msg_key: str, param: str) -> BatchResult:
        if not 0 < len(user_ids) <= BATCH_LIMIT:
            raise ValueError(f"batchSend takes 1 to {BATCH_LIMIT} users, not {len(user_ids)}")
        body = self._authorised(BATCH_PATH, {
            "robotCode": self.robot_code,
            "userIds": list(user_ids),
            "msgKey": msg_key,
            "msgParam": param,
        })
        return BatchResult(
            flow_controlled=[str(u) for u in body.get("flowControlledStaffIdList") or []],
            invalid=[str(u) for u in body.get("invalidStaffIdList") or []],
            filtered=[str(u) for u in body.get("filteredStaffIdList") or []],
        )

    def upload_media(self, filename: str, data: bytes, mime: str, media_type: str = "file") -> str:
        """Upload a file ("上传媒体文件"); its media_id, for a sampleFile message."""
        for attempt in (1, 2):
            token = self.token()
            response = self._request(
                f"{self.oapi_endpoint}{MEDIA_PATH}", params={"access_token": token},
                data={"type": media_type}, files={"media": (filename, data, mime)},
            )
            body = _json(response)
            if response.status_code == 429 or response.status_code >= 500:
                raise DeliveryError(f"dingtalk:{response.status_code}:media", temporary=True,
                                    retry_after=_retry_after(response))
            try:
                errcode = int(body.get("errcode", -1))
            except (TypeError, ValueError):
                errcode = -1
            if errcode == 0 and body.get("media_id"):
                return str(body["media_id"])
            if errcode in OAPI_TOKEN_ERRORS and attempt == 1:
                self.forget_token(token)
                continue
            log.warning("DingTalk refused a media upload: %s %s", errcode, body.get("errmsg", ""))
            raise DeliveryError(f"dingtalk:media:{errcode}",
                                temporary=errcode in OAPI_TOKEN_ERRORS)
        raise DeliveryError("dingtalk:media:token", temporary=True, retry_after=60.0)

    def download_message_file(self, download_code: str, limit: int) -> tuple[bytes, str]:
        """The bytes (at most `limit` + 1 of them: more means too large) and the media type
        of a file someone sent the robot."""
        body = self._authorised(MESSAGE_FILE_PATH, {"downloadCode": download_code,
                                                    "robotCode": self.robot_code})
        url = str(body.get("downloadUrl") or "")
        if not url.startswith(("https://", "http://")):
            raise DeliveryError("dingtalk:download:no_url", temporary=False)
        try:
            with self.http.get(url, stream=True, timeout=self.timeout) as response:
                if response.status_code >= 300:
                    raise DeliveryError(f"dingtalk:download:{response.status_code}",
                                        temporary=response.status_code >= 500)
                data = b""
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        break
                return data, response.headers.get("Content-Type", "")
        except requests.RequestException as exc:
            raise DeliveryError(f"dingtalk_unreachable:{exc.__class__.__name__}",
                                temporary=True) from None

    def post_webhook(self, url: str, payload: dict[str, Any]) -> None:
        """Answer through a message's session webhook. Any refusal raises WebhookRefused so the
        caller can use the OpenAPI instead; only a network failure is a DeliveryError."""
        try:
            if self._environment(url)["direct"]:
                status, body = self._post_direct(url, payload)
            else:
                response = self._post_to(url, json=payload)
                status, body = response.status_code, _json(response)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise WebhookRefused(f"unreachable: {exc.__class__.__name__}") from None
        errcode = body.get("errcode", 0)
        if status >= 300 or (errcode not in (0, "0", None)):
            raise WebhookRefused(f"http {status} errcode {errcode}")

    def _post_direct(self, url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The POST requests would send (its body, headers, timeouts, CA bundle and pool
        sizes; no retry), through urllib3, which requests wraps: 0.72 -> 0.34 ms of CPU a call
        (issue 22), without the cookie jar, the hooks and the per-call merging of settings.
        Unlike requests it follows no redirect: a 3xx counts as refused, and the OpenAPI
        answers instead. Only for a host that no proxy and no .netrc login apply to
        (`_environment`)."""
        response = self._pool.request(
            "POST", url, body=json.dumps(payload, allow_nan=False).encode("utf-8"),
            headers=self._direct_headers, timeout=self._direct_timeout, retries=False,
            redirect=False)
        try:
            data = json.loads(response.data)
        except ValueError:
            data = {}
        return response.status, data if isinstance(data, dict) else {}

    # -- plumbing -------------------------------------------------------------------------------

    def _authorised(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = self.token()
        try:
            return self._post(path, body, token)
        except _Unauthorised:
            # The token was revoked or expired early: one fresh token, one more try.
            self.forget_token(token)
        try:
            return self._post(path, body, self.token())
        except _Unauthorised as exc:
            raise DeliveryError(exc.reason, temporary=True, retry_after=60.0) from None

    def _post_to(self, url: str, **kwargs: Any) -> requests.Response:  # noqa: ANN401
        """POST with the environment's settings for this host, as requests would apply them
        itself (trust_env), read once."""
        env = self._environment(url)
        return self._posts.post(url, timeout=self.timeout, proxies=env["proxies"],
                                verify=env["verify"], auth=env["auth"], **kwargs)

    def _environment(self, url: str) -> dict[str, Any]:
        """What requests takes from the environment for `url`: the proxies (none when
        no_proxy covers the host), REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, and ~/.netrc's
        login; read at the first call to its host. `direct`: neither a proxy nor a login
        applies (see `_post_direct`)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environments.get(key)
        if found is None:
            proxies = requests.utils.get_environ_proxies(url)
            auth = requests.utils.get_netrc_auth(url)
            found = {"proxies": proxies, "verify": self._ca_bundle or True, "auth": auth}
            found["direct"] = auth is None and requests.utils.select_proxy(url, proxies) is None
            if len(self._environments) >= MAX_HOSTS:
                self._environments.clear()
            self._environments[key] = found
        return found

    def _request(self, url: str, **kwargs: Any) -> requests.Response:  # noqa: ANN401
        """POST within the timeout; a timeout or a connection failure is a temporary
        DeliveryError (the outbox tries again later)."""
        try:
            return self._post_to(url, **kwargs)
        except requests.Timeout:
            raise DeliveryError("dingtalk_timeout", temporary=True) from None
        except requests.RequestException as exc:
            raise DeliveryError(
                f"dingtalk_unreachable:{exc.__class__.__name__}", temporary=True
            ) from None

    def _post(self, path: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[TOKEN_HEADER] = token
        response = self._request(
            self.endpoint + path, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers=headers,
        )
        data = _json(response)
        status = response.status_code
        if status < 300:
            return data
        code = str(data.get("code") or "")
        reason = f"dingtalk:{status}:{code or 'error'}"
        if token is not None and (status == 401 or code in TOKEN_CODES):
            raise _Unauthorised(reason)
        pause = _throttle_pause(code, data)
        if pause is not None:
            pause = max(pause, _retry_after(response) or 0.0)
            log.warning("DingTalk throttles the robot (%s); pausing %.0fs", code, pause)
            # The whole robot waits: the delivery worker pauses this scope (and releases what
            # it had claimed for it, without counting an attempt).
            raise DeliveryError(reason, temporary=True, retry_after=pause,
                                scopes=(f"dingtalk:robot:{self.robot_code}",))
        if status == 429 or status >= 500:
            raise DeliveryError(reason, temporary=True, retry_after=_retry_after(response))
        log.warning("DingTalk refused %s: %s %s", path, status, data.get("message", ""))
        raise DeliveryError(reason, temporary=False)


class _Unauthorised(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _throttle_pause(code: str, data: dict[str, Any]) -> float | None:
    """Seconds the whole robot should wait, when the answer says it is throttled."""
    if data.get("punish") == "deny":
        return PAUSE_IP
    if code.startswith(QPM_PREFIX):
        return PAUSE_QPM
    if code.startswith(QPS_PREFIX) or code in THROTTLE_CODES:
        return PAUSE
    return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
