"""A loopback stand-in for the Telegram Bot API that the real python-telegram-bot is pointed at.

``async with FakeTelegram(TOKEN) as fake:`` serves ``/bot<token>/<method>`` on 127.0.0.1 (port 0);
``fake.api_url`` is what ``CAREBOT_TELEGRAM_API_URL`` (or ``TelegramOutput(api_url=...)``) takes.
It answers like the real API: ``{"ok": true, "result": ...}`` with the fields python-telegram-bot
parses, errors as ``{"ok": false, "error_code": ..., "description": ...}``, form-encoded or JSON
parameters (python-telegram-bot posts forms whose nested values, e.g. ``reply_markup``, are JSON).

Everything is recorded (:attr:`FakeTelegram.calls`, :attr:`FakeTelegram.sent_messages`) and can be
awaited without sleep-polling (:meth:`FakeTelegram.wait_for_messages`,
:meth:`FakeTelegram.wait_for_calls`). Failures are scripted with :meth:`FakeTelegram.fail_next`,
:meth:`FakeTelegram.fail_for`, :meth:`FakeTelegram.block` and :meth:`FakeTelegram.respond_slowly`.
:class:`TelegramUpdates` builds realistic Update objects, for webhook posts or
:meth:`FakeTelegram.push_update` (polling).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijkl"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64

_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_JSON_PARAMETERS = {
    "reply_markup",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "reply_parameters",
}
_INTEGER_PARAMETERS = {
    "chat_id",
    "user_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "max_connections",
    "message_thread_id",
    "reply_to_message_id",
}
_INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class ApiCall:
    """One request the fake received: method, decoded parameters, arrival time, answer status."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    status: int


@dataclass
class _Failure:
    status: int
    method: str | None
    retry_after: int | None = None
    remaining: int | None = None  # calls left to fail, for fail_next
    skip: int = 0  # calls to let through before failing, for fail_next
    until: float | None = None  # monotonic deadline, for fail_for

    def applies(self, method: str, now: float) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.remaining is not None:
            return self.remaining > 0
        return self.until is not None and now < self.until


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class FakeTelegram:
    """The fake Bot API server. See the module docstring."""

    def __init__(self, token: str = TOKEN, *, username: str = "carebot_test_bot") -> None:
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Carebot",
            "username": username,
        }
        self.updates = TelegramUpdates()
        self.calls: list[ApiCall] = []
        self.sent_messages: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.api_url = ""
        self._pending: list[dict[str, Any]] = []
        self._failures: list[_Failure] = []
        self._blocked: set[int] = set()
        self._slow: dict[str | None, float] = {}
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._bot_status: dict[int, str] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.api_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True  # ends long polls and slow answers at once
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- scripting -------------------------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int = 429,
        *,
        retry_after: int = 1,
        method: str | None = "sendMessage",
        skip: int = 0,
    ) -> None:
        """Fail the next ``n`` calls of ``method`` (None: of any method) with ``status``.

        ``skip`` calls are let through first (to fail the second part of a long reply). A 429
        carries ``parameters.retry_after`` as Telegram's does.
        """
        retry = retry_after if status == 429 else None
        self._failures.append(_Failure(status, method, retry, remaining=n, skip=skip))

    def fail_for(
        self, seconds: float, status: int = 500, *, method: str | None = "sendMessage"
    ) -> None:
        """Fail every call of ``method`` (None: of any method) for the next ``seconds``."""
        self._failures.append(_Failure(status, method, until=time.monotonic() + seconds))

    def block(self, chat_id: int) -> None:
        """The user of ``chat_id`` blocked the bot: sends get 403 "bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def respond_slowly(self, delay: float, *, method: str | None = "sendMessage") -> None:
        """Answer calls of ``method`` (None: every method) after ``delay`` seconds; 0 to stop."""
        self._slow[method] = delay

    def add_channel(self, username: str, *, bot_status: str = "administrator") -> int:
        """A broadcast channel ``@username`` whose member the bot is with ``bot_status``."""
        chat_id = -1_001_000_000_000 - len(self._chats)
        chat = {"id": chat_id, "type": "channel", "title": username.lstrip("@").title()}
        chat["username"] = username.lstrip("@")
        self._chats[chat_id] = self._chats[username] = chat
        self._bot_status[chat_id] = bot_status
        return chat_id

    async def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for ``getUpdates`` (polling mode); a waiting long poll returns it."""
        async with self._changed:
            self._pending.append(update)
            self._changed.notify_all()

    # ---- observing -------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def messages_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        return [m for m in self.sent_messages if str(m["chat"]["id"]) == str(chat_id)]

    async def wait_for_messages(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline in seconds reads best in tests
    ) -> list[dict[str, Any]]:
        """The first ``count`` sent messages, once that many were sent; TimeoutError otherwise."""
        await self._wait(lambda: len(self.sent_messages) >= count, timeout)
        return self.sent_messages[:count]

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ApiCall]:
        """The first ``count`` calls of ``method``, once that many arrived."""
        await self._wait(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)[:count]

    async def _wait(self, ready: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(ready)

    # ---- the API ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        arrived = time.monotonic()
        params = await _read_params(request)
        status, body = await self._answer(request.match_info["token"], method, params)
        self.calls.append(ApiCall(method, params, arrived, status))
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(body, status=status)

    async def _answer(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        if token != self.token:
            return 401, _error(401, "Unauthorized")
        delay = self._slow.get(method, self._slow.get(None, 0.0))
        if delay > 0:
            await self._sleep(delay)
        now = time.monotonic()
        for failure in self._failures:
            if failure.applies(method, now):
                if failure.skip > 0:
                    failure.skip -= 1
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                return failure.status, _error(failure.status, None, failure.retry_after)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, _error(404, "Not Found")
        try:
            return 200, {"ok": True, "result": await handler(params)}
        except ApiError as exc:
            return exc.status, _error(exc.status, exc.description, exc.retry_after)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), self._changed:
                await self._changed.wait_for(lambda: self._closing)

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "first_name": "Customer", "type": "private"}
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params.get("chat_id"))
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        # Counted in UTF-16 code units, the unit of Telegram's offsets: never laxer than Telegram.
        if len(text.encode("utf-16-le", "surrogatepass")) // 2 > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        _check_markup(markup)
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat["type"] == "channel" and self._bot_status.get(chat["id"]) != "administrator":
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        counter = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message: dict[str, Any] = {
            "message_id": next(counter),
            "date": int(time.time()),
            "chat": chat,
            "text": text.strip(),
        }
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = self.bot_user
        if markup:
            message["reply_markup"] = markup
        self.sent_messages.append(message)
        return message

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if not isinstance(params.get("callback_query_id"), str):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        return True

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params.get("chat_id"))
        for message in self.sent_messages:
            if message["chat"]["id"] == chat["id"] and message["message_id"] == params.get(
                "message_id"
            ):
                markup = params.get("reply_markup")
                _check_markup(markup)
                if markup:
                    message["reply_markup"] = markup
                else:
                    message.pop("reply_markup", None)
                return {**message, "edit_date": int(time.time())}
        raise ApiError(400, "Bad Request: message to edit not found")

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url")
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: URL must be provided")
        if not url:
            self.webhook = None
            return True
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
            "drop_pending_updates": params.get("drop_pending_updates", False),
        }
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:  # confirms, hence forgets, what came before
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        allowed = params.get("allowed_updates")
        if allowed:
            self._pending = [u for u in self._pending if set(u) - {"update_id"} <= set(allowed)]
        timeout = params.get("timeout", 0)
        if not self._pending and isinstance(timeout, int) and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(lambda: bool(self._pending) or self._closing)
        limit = params.get("limit", 100)
        return list(self._pending[: limit if isinstance(limit, int) and limit > 0 else 100])

    async def _api_getChat(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params.get("chat_id"))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_getChatMember(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params.get("chat_id"))
        user_id = params.get("user_id")
        if user_id != self.bot_user["id"]:
            return {"status": "member", "user": {"id": user_id, "is_bot": False, "first_name": "U"}}
        status = self._bot_status.get(chat["id"], "member")
        member: dict[str, Any] = {"status": status, "user": self.bot_user}
        if status == "administrator":
            member |= dict.fromkeys(
                [
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_promote_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_post_messages",
                    "can_edit_messages",
                ],
                True,
            )
            member |= {"can_be_edited": False, "is_anonymous": False}
        return member


def _error(status: int, description: str | None, retry_after: int | None = None) -> dict[str, Any]:
    if description is None:
        description = _DESCRIPTIONS.get(status, "Error")
        if retry_after is not None:
            description = f"Too Many Requests: retry after {retry_after}"
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _check_markup(markup: Any) -> None:
    if not markup:
        return
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and a JSON, form or multipart body, typed like Telegram."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            return raw | body
        return raw
    if request.can_read_body:
        form = await request.post()
        raw |= {key: value for key, value in form.items() if isinstance(value, str)}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_PARAMETERS:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        elif value in ("true", "false"):
            value = value == "true"
        elif key in _INTEGER_PARAMETERS and _INTEGER.match(value):
            value = int(value)
        params[key] = value
    return params


class TelegramUpdates:
    """Realistic Update objects with increasing ``update_id`` s (and message ids per chat)."""

    def __init__(self, first_update_id: int = 500_000_000) -> None:
        self._update_ids = itertools.count(first_update_id)
        self._message_ids = itertools.count(1)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    @staticmethod
    def user(
        chat_id: int,
        *,
        first_name: str = "Ada",
        last_name: str | None = "Lovelace",
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name}
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                user[key] = value
        return user

    @staticmethod
    def private_chat(chat_id: int, first_name: str = "Ada") -> dict[str, Any]:
        return {"id": chat_id, "first_name": first_name, "type": "private"}

    def message(
        self, chat_id: int, *, sender: dict[str, Any] | None = None, **content: Any
    ) -> dict[str, Any]:
        """A private-chat ``message`` update with ``content`` (text, photo, caption, ...)."""
        return {
            "update_id": self.next_update_id(),
            "message": {
                "message_id": next(self._message_ids),
                "from": sender or self.user(chat_id),
                "chat": self.private_chat(chat_id),
                "date": int(time.time()),
                **content,
            },
        }

    def text(self, chat_id: int, text: str, **user: Any) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        return self.message(chat_id, sender=self.user(chat_id, **user), **content)

    def edited(self, chat_id: int, text: str, *, message_id: int) -> dict[str, Any]:
        now = int(time.time())
        return {
            "update_id": self.next_update_id(),
            "edited_message": {
                "message_id": message_id,
                "from": self.user(chat_id),
                "chat": self.private_chat(chat_id),
                "date": now - 60,
                "edit_date": now,
                "text": text,
            },
        }

    def photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        sizes = [
            {"file_id": f"AgACAgQAAxk-{w}", "file_unique_id": f"AQAD{w}", "width": w, "height": w}
            | {"file_size": w * 40}
            for w in (90, 320, 1280)
        ]
        extra = {"caption": caption} if caption is not None else {}
        return self.message(chat_id, photo=sizes, **extra)

    def voice(self, chat_id: int) -> dict[str, Any]:
        voice: dict[str, Any] = {"file_id": "AwACAgQAAxk-voice", "file_unique_id": "AgADvoice"}
        voice |= {"duration": 3, "mime_type": "audio/ogg", "file_size": 9000}
        return self.message(chat_id, voice=voice)

    def document(self, chat_id: int, file_name: str = "invoice.pdf") -> dict[str, Any]:
        document: dict[str, Any] = {"file_id": "BQACAgQAAxk-doc", "file_unique_id": "AgADdoc"}
        document |= {"file_name": file_name, "mime_type": "application/pdf", "file_size": 20480}
        return self.message(chat_id, document=document)

    def location(self, chat_id: int, latitude: float, longitude: float) -> dict[str, Any]:
        return self.message(chat_id, location={"latitude": latitude, "longitude": longitude})

    def callback_query(
        self,
        chat_id: int,
        data: str,
        *,
        buttons: Sequence[tuple[str, str]] = (),
        message_text: str = "Was this helpful?",
        query_id: str | None = None,
    ) -> dict[str, Any]:
        """A button press on a message the bot sent with ``buttons`` as (title, data) rows."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": {"id": 123456789, "is_bot": True, "first_name": "Carebot"},
            "chat": self.private_chat(chat_id),
            "date": int(time.time()) - 5,
            "text": message_text,
        }
        if buttons:
            message["reply_markup"] = {
                "inline_keyboard": [[{"text": t, "callback_data": d}] for t, d in buttons]
            }
        update_id = self.next_update_id()
        return {
            "update_id": update_id,
            "callback_query": {
                "id": query_id or f"{4_000_000_000_000_000_000 + update_id}",
                "from": self.user(chat_id),
                "message": message,
                "chat_instance": f"-{7_000_000_000_000 + chat_id}",
                "data": data,
            },
        }

    def my_chat_member(
        self, chat_id: int, status: str = "kicked", *, old_status: str = "member"
    ) -> dict[str, Any]:
        """The customer blocked (``kicked``) or restarted (``member``) the bot."""
        bot = {"id": 123456789, "is_bot": True, "first_name": "Carebot"}
        now = int(time.time())
        return {
            "update_id": self.next_update_id(),
            "my_chat_member": {
                "chat": self.private_chat(chat_id),
                "from": self.user(chat_id),
                "date": now,
                "old_chat_member": {"user": bot, "status": old_status}
                | ({"until_date": 0} if old_status == "kicked" else {}),
                "new_chat_member": {"user": bot, "status": status}
                | ({"until_date": 0} if status == "kicked" else {}),
            },
        }
