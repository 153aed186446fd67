"""The Intercom sandbox: a local HTTP stand-in for the parts of Intercom's REST API the bridge uses.

It speaks Intercom's wire format (Bearer auth, `error.list` errors, `X-RateLimit-*` headers on
authenticated answers, 2.16 object shapes) so the bridge can be tried without a workspace and
tested over real HTTP. Switches under `/_sandbox/` (no auth) set search lag, added latency,
faults, the rate limit, the webhook subscription (`topics`; `hold_webhooks` keeps notifications
until `/_sandbox/webhooks/release` sends them, late), messages answered without their conversation and
the workspace's subscription types (`subscription_types`; `sms_subscription_type: false` for a
workspace without one for SMS), seed contacts, and expose what was exchanged and how many calls
each rate-limit window counted; `/` shows the workspace to a person. Having no auth, they take only
JSON, and the whole sandbox answers only requests addressed to this machine (`bridge.dev.devtools`).

Files a reply carries (`attachment_files`) are kept and served back under `/_sandbox/uploads/`
(`bridge.dev.sandbox.uploads`; `attachment_max_bytes` sets the largest one taken).

Conversations carry what Intercom keeps about them: conversation attributes (defined through
`/conversations/attributes`, checked when set), tags, a team and an admin assignee (teams come
from `teams` in the config; one by default), and the `created_at` a new conversation or a
contact's reply was given (`bridge.dev.sandbox.labels`); the dashboard shows them, parts in the
order of their times.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.middleware.base import RequestResponseEndpoint

from bridge.dev.devtools import LocalOnly
from bridge.dev.sandbox.dashboard import render_dashboard
from bridge.dev.sandbox.errors import NOT_JSON_MESSAGE, ApiError, install_error_handlers
from bridge.dev.sandbox.messages import OPENED_TOPIC, send_admin_message
from bridge.dev.sandbox.notifications import STATE_TOPICS, notify, release, topics_for_part
from bridge.dev.sandbox.search import CONVERSATION_FIELDS, InvalidQuery, compile_query, custom_fields
from bridge.dev.sandbox.state import (
    DEFAULT_RATE_LIMIT,
    RATE_WINDOW_SECONDS,
    Conversation,
    Exchange,
    Fault,
    Workspace,
)
from bridge.dev.sandbox.uploads import DATA_ONLY_HEADERS, FIELD, UPLOADS_PATH, read_files, refuse_files

CONTROL_PREFIX = "/_sandbox"
MAX_PER_PAGE = 150
LIST_PER_PAGE = 50  # Intercom's default page size for listing contacts
CONVERSATION_SEARCH_PER_PAGE = 20  # Intercom's default for searching conversations
RECORDED_HEADERS = ("authorization", "intercom-version", "content-type", "accept")

T = TypeVar("T")


def create_sandbox_app(workspace: Workspace | None = None, *, allowed_hosts: Iterable[str] = ()) -> FastAPI:
    """The sandbox for `workspace`, answering requests to loopback names and `allowed_hosts` only."""
    workspace = workspace or Workspace()
    app = FastAPI(title="Intercom sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.workspace = workspace

    install_error_handlers(app)

    @app.middleware("http")
    async def intercom_edge(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path == "/" or path.startswith(CONTROL_PREFIX):
            return await call_next(request)
        body = await request.body()
        if workspace.latency:
            await asyncio.sleep(workspace.latency)
        response = await _edge(workspace, request, call_next)
        return await _record(workspace, request, body, response)

    # --- admins ---

    @app.get("/me")
    async def me() -> dict[str, Any]:
        admin = workspace.admins[0]
        app_info = {
            "type": "app",
            "id_code": "sandbox",
            "name": "Sandbox",
            "region": "US",
            "timezone": "UTC",
            "created_at": 1700000000,
            "identity_verification": False,
        }
        return {**admin, "email_verified": True, "app": app_info}

    @app.get("/admins")
    async def admins() -> dict[str, Any]:
        return {"type": "admin.list", "admins": workspace.admins}

    @app.get("/admins/{admin_id}")
    async def show_admin(admin_id: str) -> dict[str, Any]:
        return workspace.admin(admin_id)

    # --- teams: what conversations can be assigned to besides admins ---

    @app.get("/teams")
    async def teams() -> dict[str, Any]:
        return {"type": "team.list", "teams": workspace.teams}

    @app.get("/teams/{team_id}")
    async def show_team(team_id: str) -> dict[str, Any]:
        return workspace.team(team_id)

    # --- contacts ---

    @app.post("/contacts")
    async def create_contact(request: Request) -> dict[str, Any]:
        fields = await _json_body(request)
        if not any(fields.get(name) for name in ("email", "external_id", "role")):
            raise ApiError(400, "parameter_invalid", "one of email, external_id or role is required")
        return workspace.create_contact(fields).to_json()

    @app.get("/contacts")
    async def list_contacts(request: Request) -> dict[str, Any]:
        """Every live contact, oldest first; the cursor goes in the query string (not in a body)."""
        return _list_contacts(workspace, request.query_params)

    @app.get("/contacts/{contact_id}")
    async def show_contact(contact_id: str) -> dict[str, Any]:
        return workspace.contact(contact_id).to_json()

    @app.put("/contacts/{contact_id}")
    async def update_contact(contact_id: str, request: Request) -> dict[str, Any]:
        return workspace.update_contact(contact_id, await _json_body(request)).to_json()

    @app.delete("/contacts/{contact_id}")
    async def delete_contact(contact_id: str) -> dict[str, Any]:
        deleted = workspace.delete_contact(contact_id)
        return {"type": "contact", "id": deleted.id, "external_id": deleted.external_id, "deleted": True}

    @app.post("/contacts/search")
    async def search_contacts(request: Request) -> dict[str, Any]:
        return _search(workspace, await _json_body(request))

    @app.post("/contacts/merge")
    async def merge_contacts(request: Request) -> dict[str, Any]:
        fields = await _json_body(request)
        if not fields.get("from") or not fields.get("into"):
            raise ApiError(400, "parameter_not_found", "from and into are required")
        skip = bool(fields.get("skip_duplicate_validation"))
        return workspace.merge(
            str(fields["from"]), str(fields["into"]), skip_duplicate_validation=skip
        ).to_json()

    # --- data attributes ---

    @app.get("/data_attributes")
    async def list_data_attributes(model: str = "contact") -> dict[str, Any]:
        attributes = [a for a in workspace.data_attributes.values() if a["model"] == model]
        return {"type": "list", "data": attributes}

    @app.post("/data_attributes")
    async def create_data_attribute(request: Request) -> dict[str, Any]:
        return workspace.create_data_attribute(await _json_body(request))

    # --- conversation attributes and tags (`bridge.dev.sandbox.labels`) ---

    @app.get("/conversations/attributes")
    async def list_conversation_attributes() -> dict[str, Any]:
        return workspace.labels.attributes_json()

    @app.post("/conversations/attributes")
    async def create_conversation_attribute(request: Request) -> dict[str, Any]:
        admin_id = workspace.admins[0]["id"]  # the token's admin
        return workspace.labels.create_attribute(await _json_body(request), admin_id=admin_id)

    @app.delete("/conversations/attributes/{attribute_id}")
    async def archive_conversation_attribute(attribute_id: str) -> dict[str, Any]:
        return workspace.labels.archive(attribute_id)

    @app.get("/tags")
    async def list_tags() -> dict[str, Any]:
        return workspace.labels.tags_json()

    @app.post("/tags")
    async def create_tag(request: Request) -> dict[str, Any]:
        return workspace.labels.tag_named(await _json_body(request))

    @app.get("/tags/{tag_id}")
    async def show_tag(tag_id: str) -> dict[str, Any]:
        return dict(workspace.labels.tag(tag_id))

    @app.delete("/tags/{tag_id}")
    async def delete_tag(tag_id: str) -> Response:
        workspace.labels.delete_tag(tag_id)
        workspace.untag_everywhere(tag_id)
        return Response(status_code=200)

    # --- subscription types: consent (`bridge.dev.sandbox.subscriptions`) ---

    @app.get("/subscription_types")
    async def subscription_types() -> dict[str, Any]:
        return workspace.subscriptions.list_json()

    @app.get("/contacts/{contact_id}/subscriptions")
    async def contact_subscriptions(contact_id: str) -> dict[str, Any]:
        return workspace.subscriptions.contact_json(workspace.contact(contact_id).id)

    @app.post("/contacts/{contact_id}/subscriptions")
    async def attach_subscription(contact_id: str, request: Request) -> dict[str, Any]:
        """Attach the contact to a subscription type: out of an opt-out type, into an opt-in one."""
        contact = workspace.contact(contact_id)
        return workspace.subscriptions.attach(contact.id, await _json_body(request)).to_json()

    @app.delete("/contacts/{contact_id}/subscriptions/{subscription_id}")
    async def detach_subscription(contact_id: str, subscription_id: str) -> dict[str, Any]:
        """Back to the type's default: in again for an opt-out type, out again for an opt-in one."""
        contact = workspace.contact(contact_id)
        return workspace.subscriptions.detach(contact.id, subscription_id).to_json()

    # --- conversations ---

    @app.get("/conversations")
    async def list_conversations() -> dict[str, Any]:
        items = [c.to_json(workspace.contacts) for c in workspace.conversations.values()]
        return {
            "type": "conversation.list",
            "conversations": items,
            "total_count": len(items),
            "pages": {"type": "pages", "page": 1, "per_page": max(len(items), 1), "total_pages": 1},
        }

    @app.post("/conversations")
    async def create_conversation(request: Request) -> dict[str, Any]:
        fields = await _json_body(request)
        sender = fields.get("from") or {}
        if sender.get("type") not in ("lead", "user", "contact") or not sender.get("id"):
            raise ApiError(400, "parameter_invalid", "from must be {type: lead|user|contact, id}")
        body = fields.get("body")
        if not isinstance(body, str):
            raise ApiError(400, "parameter_not_found", "body is required")
        refuse_files(fields, "POST /conversations")
        try:
            contact = workspace.contact(str(sender["id"]))
        except ApiError as exc:
            raise ApiError(404, "not_found", "User Not Found") from exc
        urls = _attachment_urls(fields)
        conversation = workspace.create_conversation(
            contact=contact, body=body, attachment_urls=urls, created_at=_created_at(fields)
        )
        return {
            "type": "user_message",
            "id": conversation.source_id,
            "created_at": conversation.created_at,
            "body": body,
            "message_type": "inapp",
            "conversation_id": conversation.id,
        }

    @app.post("/conversations/search")
    async def search_conversations(request: Request) -> dict[str, Any]:
        return _search_conversations(workspace, await _json_body(request))

    @app.get("/conversations/{conversation_id}")
    async def show_conversation(conversation_id: str) -> dict[str, Any]:
        return workspace.conversation(conversation_id).to_json(workspace.contacts)

    @app.put("/conversations/{conversation_id}")
    async def update_conversation(conversation_id: str, request: Request) -> dict[str, Any]:
        """Its title or custom attributes (each a defined conversation attribute, of its type)."""
        conversation = workspace.conversation(conversation_id)
        fields = await _json_body(request)
        if "custom_attributes" in fields:
            conversation.custom_attributes.update(workspace.labels.check_values(fields["custom_attributes"]))
            conversation.updated_at = int(time.time())
        return conversation.to_json(workspace.contacts)

    @app.post("/conversations/{conversation_id}/tags")
    async def tag_conversation(conversation_id: str, request: Request) -> dict[str, Any]:
        conversation = workspace.conversation(conversation_id)
        fields = await _json_body(request)
        if not fields.get("id") or not fields.get("admin_id"):
            raise ApiError(400, "parameter_not_found", "id and admin_id are required")
        admin = workspace.admin(str(fields["admin_id"]))
        return workspace.tag_conversation(conversation, str(fields["id"]), admin)

    @app.post("/conversations/{conversation_id}/reply")
    async def reply(conversation_id: str, request: Request) -> dict[str, Any]:
        conversation = workspace.conversation(conversation_id)
        fields = await _json_body(request)
        urls = _attachment_urls(fields)
        files = read_files(fields, max_bytes=workspace.attachment_max_bytes)
        if fields.get("type") == "admin":
            admin = workspace.admin(str(fields.get("admin_id", "")))
            kind = fields.get("message_type")
            if kind not in ("comment", "note", "quick_reply"):
                raise ApiError(400, "parameter_invalid", "message_type must be comment, note or quick_reply")
            author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
            part = workspace.add_part(
                conversation,
                part_type=kind,
                body=str(fields.get("body") or ""),
                author=author,
                attachment_urls=urls,
                uploads=workspace.keep_files(files, base_url=str(request.base_url)),
            )
            for topic in topics_for_part(part):
                await notify(workspace, topic, conversation, part)
        elif fields.get("type") == "user":
            contact = _replying_contact(workspace, fields)
            if contact.id not in conversation.contact_ids:
                raise ApiError(404, "not_found", "Resource Not Found")
            if fields.get("message_type") != "comment" or not isinstance(fields.get("body"), str):
                raise ApiError(400, "parameter_invalid", "a user reply needs message_type comment and a body")
            conversation.state = "open"  # a customer's reply reopens the conversation
            workspace.add_part(
                conversation,
                part_type="comment",
                body=fields["body"],
                author=contact.author(),
                attachment_urls=urls,
                uploads=workspace.keep_files(files, base_url=str(request.base_url)),
                created_at=_created_at(fields),
            )
        else:
            raise ApiError(400, "parameter_invalid", "type must be user or admin")
        return conversation.to_json(workspace.contacts)

    # --- messages ---

    @app.post("/messages")
    async def create_message(request: Request) -> dict[str, Any]:
        """An admin writes first (`bridge.dev.sandbox.messages`); an opened conversation is announced
        as `conversation.admin.single.created`, not as a reply."""
        sent = send_admin_message(workspace, await _json_body(request))
        if sent.conversation is not None:
            await notify(workspace, OPENED_TOPIC, sent.conversation)
        return sent.answer

    @app.post("/conversations/{conversation_id}/parts")
    async def manage(conversation_id: str, request: Request) -> dict[str, Any]:
        """Close, open, snooze or assign a conversation (Intercom's manageConversation)."""
        conversation = workspace.conversation(conversation_id)
        fields = await _json_body(request)
        kind = fields.get("message_type")
        admin = workspace.admin(str(fields.get("admin_id", "")))
        if kind == "assignment":
            if "assignee_id" not in fields:
                raise ApiError(400, "parameter_not_found", "assignee_id is required", field="assignee_id")
            workspace.assign(conversation, str(fields.get("type")), str(fields["assignee_id"]), admin)
            return conversation.to_json(workspace.contacts)
        if kind not in STATE_TOPICS:
            raise ApiError(
                400, "parameter_invalid", "message_type must be close, open, snoozed or assignment"
            )
        await _change_state(workspace, conversation, str(kind), admin)
        return conversation.to_json(workspace.contacts)

    # --- control: what tests and people use to steer and watch the sandbox ---

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> str:
        return render_dashboard(workspace)

    @app.get(f"{UPLOADS_PATH}/{{upload_id}}/{{name:path}}")
    async def uploaded(upload_id: str, name: str) -> Response:
        """A file a reply carried, as data (`bridge.dev.sandbox.uploads`)."""
        upload = workspace.uploads.get(upload_id)
        if upload is None:
            return JSONResponse({"detail": "no such upload"}, status_code=404, headers=DATA_ONLY_HEADERS)
        disposition = "inline" if upload.inline else "attachment"
        headers = {"Content-Disposition": disposition, **DATA_ONLY_HEADERS}
        return Response(upload.data, media_type=upload.content_type, headers=headers)

    @app.get(f"{CONTROL_PREFIX}/state")
    async def state() -> dict[str, Any]:
        subscriptions = workspace.subscriptions
        return {
            "contacts": [
                c.to_json() | {"merged_into": c.merged_into, "subscriptions": subscriptions.state_json(c.id)}
                for c in workspace.contacts.values()
            ],
            "conversations": [c.to_json(workspace.contacts) for c in workspace.conversations.values()],
            "subscription_types": subscriptions.list_json()["data"],
        }

    @app.post(f"{CONTROL_PREFIX}/reset")
    async def reset() -> dict[str, str]:
        workspace.reset()
        return {"status": "reset"}

    @app.put(f"{CONTROL_PREFIX}/config")
    async def configure(request: Request) -> dict[str, Any]:
        fields = await request.json()
        if "search_lag" in fields:
            workspace.search_lag = float(fields["search_lag"])
        if "latency" in fields:
            workspace.latency = float(fields["latency"])
        if "rate_limit" in fields:
            workspace.rate_limit = int(fields["rate_limit"])
        if "attachment_max_bytes" in fields:
            workspace.attachment_max_bytes = int(fields["attachment_max_bytes"])
        if "webhook_url" in fields:
            workspace.webhook_url = fields["webhook_url"] or None
        if "client_secret" in fields:
            workspace.client_secret = fields["client_secret"] or None
        if "messages_without_conversation_id" in fields:
            workspace.messages_without_conversation_id = bool(fields["messages_without_conversation_id"])
        if "topics" in fields:
            topics = fields["topics"]
            workspace.topics = None if topics is None else frozenset(str(topic) for topic in topics)
        if "hold_webhooks" in fields:
            workspace.hold_webhooks = bool(fields["hold_webhooks"])
        if "subscription_types" in fields:
            workspace.subscriptions.configure(fields["subscription_types"])
        if "sms_subscription_type" in fields:
            workspace.subscriptions.set_sms(bool(fields["sms_subscription_type"]))
        if "teams" in fields:
            workspace.set_teams(fields["teams"])
        return {
            "search_lag": workspace.search_lag,
            "latency": workspace.latency,
            "rate_limit": workspace.rate_limit,
            "attachment_max_bytes": workspace.attachment_max_bytes,
            "webhook_url": workspace.webhook_url,
            "messages_without_conversation_id": workspace.messages_without_conversation_id,
            "topics": None if workspace.topics is None else sorted(workspace.topics),
            "hold_webhooks": workspace.hold_webhooks,
            "subscription_types": workspace.subscriptions.list_json()["data"],
            "teams": workspace.teams,
        }

    @app.post(f"{CONTROL_PREFIX}/conversations/{{conversation_id}}/bot_reply")
    async def bot_reply(conversation_id: str, request: Request) -> dict[str, Any]:
        """A reply by a bot (Fin), which Intercom announces under two topics."""
        conversation = workspace.conversation(conversation_id)
        fields = await request.json()
        author = {
            "type": "bot",
            "id": "6827949",
            "name": "Fin Bot",
            "email": "operator+sandbox@intercom.io",
            "from_ai_agent": True,
            "is_ai_answer": True,
        }
        part = workspace.add_part(
            conversation,
            part_type="comment",
            body=str(fields.get("body") or ""),
            author=author,
            attachment_urls=list(fields.get("attachment_urls") or []),
        )
        for topic in topics_for_part(part):
            await notify(workspace, topic, conversation, part)
        return part.to_json()

    @app.post(f"{CONTROL_PREFIX}/webhooks/release")
    async def release_webhooks() -> dict[str, int]:
        """Send the notifications held while `hold_webhooks` was on, oldest first: late."""
        return {"released": await release(workspace)}

    @app.get(f"{CONTROL_PREFIX}/deliveries")
    async def deliveries() -> list[dict[str, Any]]:
        return [delivery.__dict__ for delivery in workspace.deliveries]

    # The dashboard's buttons: reply as the sandbox admin, close, open. JSON (`{"body": ...}`), as
    # every control route: a cross-site HTML form could otherwise post a reply to a customer.
    @app.post(f"{CONTROL_PREFIX}/ui/conversations/{{conversation_id}}/reply")
    async def ui_reply(conversation_id: str, request: Request) -> dict[str, Any]:
        conversation = workspace.conversation(conversation_id)
        fields = await _json_body(request)
        admin = workspace.admins[0]
        author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
        body = str(fields.get("body") or "").strip()
        if body:
            part = workspace.add_part(
                conversation, part_type="comment", body=body, author=author, attachment_urls=[]
            )
            for topic in topics_for_part(part):
                await notify(workspace, topic, conversation, part)
        return conversation.to_json(workspace.contacts)

    @app.post(f"{CONTROL_PREFIX}/ui/conversations/{{conversation_id}}/{{action}}")
    async def ui_state(conversation_id: str, action: str) -> dict[str, Any]:
        conversation = workspace.conversation(conversation_id)
        if action in STATE_TOPICS:
            await _change_state(workspace, conversation, action, workspace.admins[0])
        return conversation.to_json(workspace.contacts)

    @app.post(f"{CONTROL_PREFIX}/rate_limit")
    async def set_rate_limit(request: Request) -> dict[str, Any]:
        """Intercom's rate limit, `{"per_window": 50, "window_seconds": 10}`: more calls in one
        window get 429 with `X-RateLimit-*` until it ends. Counts start afresh."""
        fields = await request.json()
        workspace.set_rate_limit(
            int(fields.get("per_window", DEFAULT_RATE_LIMIT)),
            float(fields.get("window_seconds", RATE_WINDOW_SECONDS)),
        )
        return workspace.rate_report()

    @app.get(f"{CONTROL_PREFIX}/rate_limit")
    async def rate_limit_report() -> dict[str, Any]:
        """The limit, and each window's calls and 429s (benchmarks print calls per window)."""
        return workspace.rate_report()

    @app.delete(f"{CONTROL_PREFIX}/rate_limit")
    async def rate_limit_off() -> dict[str, Any]:
        """No 429s any more; calls are still counted."""
        workspace.rate_limit = 0
        return workspace.rate_report()

    @app.post(f"{CONTROL_PREFIX}/faults")
    async def add_fault(request: Request) -> dict[str, Any]:
        fields = await request.json()
        fault = Fault(
            status=int(fields["status"]),
            times=None if fields.get("times", 1) is None else int(fields.get("times", 1)),
            path_prefix=str(fields.get("path_prefix", "/")),
            rate=float(fields.get("rate", 1.0)),
            reset_in=float(fields.get("reset_in", 1.0)),
            after=bool(fields.get("after", False)),
        )
        workspace.faults.append(fault)
        return {"faults": len(workspace.faults)}

    @app.delete(f"{CONTROL_PREFIX}/faults")
    async def clear_faults() -> dict[str, int]:
        workspace.faults.clear()
        return {"faults": 0}

    @app.post(f"{CONTROL_PREFIX}/contacts")
    async def seed_contact(request: Request) -> dict[str, Any]:
        """A contact as if it existed long before: explicit timestamps, visible to search now."""
        fields = await request.json()
        return workspace.create_contact(fields, searchable=True).to_json()

    @app.get(f"{CONTROL_PREFIX}/requests")
    async def requests() -> list[dict[str, Any]]:
        return [exchange.__dict__ for exchange in workspace.exchanges]

    @app.delete(f"{CONTROL_PREFIX}/requests")
    async def forget_requests() -> dict[str, int]:
        workspace.exchanges.clear()
        return {"requests": 0}

    # Added last, so outermost: a refused request is neither authenticated, counted nor recorded.
    app.add_middleware(LocalOnly, control_prefix=CONTROL_PREFIX, refuse=_refuse, extra_hosts=allowed_hosts)
    return app


def _refuse(status: int, code: str, message: str) -> Response:
    return ApiError(status, code, message).response()


async def _change_state(
    workspace: Workspace, conversation: Conversation, kind: str, admin: dict[str, Any]
) -> None:
    workspace.set_state(conversation, {"close": "closed", "open": "open", "snoozed": "snoozed"}[kind])
    author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
    part = workspace.add_part(conversation, part_type=kind, body="", author=author, attachment_urls=[])
    await notify(workspace, STATE_TOPICS[kind], conversation, part)


async def _edge(workspace: Workspace, request: Request, call_next: RequestResponseEndpoint) -> Response:
    """Authentication, injected faults and the rate-limit window, as Intercom's edge applies them."""
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    if not token or (workspace.token is not None and token != workspace.token):
        # Intercom sends no rate-limit headers without valid credentials.
        return ApiError(401, "unauthorized", "Access Token Invalid").response()
    now = time.time()
    window = workspace.count_call(now)
    fault = workspace.take_fault(request.url.path, after=False)
    if fault is not None:
        if fault.status == 429:
            headers = window.headers(remaining=0) | {
                "X-RateLimit-Reset": str(int(now + fault.reset_in + 0.999))
            }
            return ApiError(429, "rate_limit_exceeded", window.exceeded_message(), headers).response()
        return ApiError(fault.status, "server_error", "Injected by the sandbox").response()
    if window.exceeded:
        return ApiError(429, "rate_limit_exceeded", window.exceeded_message(), window.headers()).response()
    after = workspace.take_fault(request.url.path, after=True)
    response = await call_next(request)
    if after is not None:
        # The route has run: what it did stands, and the client is told it failed (an answer lost
        # to a timeout or a failing proxy after Intercom applied the call).
        async for _ in response.body_iterator:  # type: ignore[attr-defined]
            pass
        return ApiError(
            after.status, "server_error", "Injected by the sandbox after applying the call"
        ).response()
    response.headers.update(window.headers())
    return response


async def _record(workspace: Workspace, request: Request, body: bytes, response: Response) -> Response:
    if hasattr(response, "body_iterator"):  # served by a route: streamed through the middleware
        chunks = [chunk async for chunk in response.body_iterator]
        content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    else:  # answered by the edge itself
        content = bytes(response.body)
    workspace.exchanges.append(
        Exchange(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            request_headers={k: v for k, v in request.headers.items() if k in RECORDED_HEADERS},
            request_body=_without_file_data(_decode(body)),
            status=response.status_code,
            response_headers={k.lower(): v for k, v in response.headers.items()},
            response_body=_decode(content),
            at=time.time(),
        )
    )
    return Response(content, status_code=response.status_code, headers=dict(response.headers))


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _without_file_data(body: Any) -> Any:
    """A recorded request with each file's base64 replaced by its length: the file is kept once,
    as an upload, not again in every exchange."""
    if not isinstance(body, dict) or not isinstance(body.get(FIELD), list):
        return body
    files = [
        {**item, "data": f"({len(item['data'])} base64 characters)"}
        if isinstance(item, dict) and isinstance(item.get("data"), str)
        else item
        for item in body[FIELD]
    ]
    return {**body, FIELD: files}


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", NOT_JSON_MESSAGE) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "parameter_invalid", "the body must be a JSON object")
    return data


def _created_at(fields: dict[str, Any]) -> int | None:
    """A request's `created_at`: unix seconds (an integer), as the description types it."""
    value = fields.get("created_at")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, "parameter_invalid", "created_at must be a UTC Unix timestamp (seconds)")
    return value


def _attachment_urls(fields: dict[str, Any]) -> list[str]:
    urls = fields.get("attachment_urls") or []
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ApiError(400, "parameter_invalid", "attachment_urls must be a list of URLs")
    if len(urls) > 10:
        raise ApiError(400, "parameter_invalid", "attachment_urls accepts at most 10 URLs")
    return urls


def _replying_contact(workspace: Workspace, fields: dict[str, Any]) -> Any:
    if fields.get("intercom_user_id"):
        return workspace.contact(str(fields["intercom_user_id"]))
    for name, attribute in (("user_id", "external_id"), ("email", "email")):
        if fields.get(name):
            for contact in workspace.live_contacts():
                if getattr(contact, attribute) == fields[name]:
                    return contact
            raise ApiError(404, "not_found", "User Not Found")
    raise ApiError(400, "parameter_not_found", "intercom_user_id, user_id or email is required")


def _search(workspace: Workspace, fields: dict[str, Any]) -> dict[str, Any]:
    try:
        predicate = compile_query(fields.get("query"))
    except InvalidQuery as exc:
        raise ApiError(400, "parameter_invalid", str(exc)) from exc
    workspace.check_custom_attributes(
        name.removeprefix("custom_attributes.") for name in custom_fields(fields.get("query"))
    )
    matches = [c for c in workspace.searchable(time.time()) if predicate(c.search_record())]
    page, pages = _search_page(fields, matches, [c.search_record() for c in matches], per_page=50)
    return {
        "type": "list",
        "data": [c.to_json() for c in page],
        "total_count": len(matches),
        "pages": pages,
    }


def _search_conversations(workspace: Workspace, fields: dict[str, Any]) -> dict[str, Any]:
    """`POST /conversations/search`: the same query language over conversations; the list key is
    `conversations` and the items carry no parts."""
    try:
        predicate = compile_query(fields.get("query"), fields=CONVERSATION_FIELDS)
    except InvalidQuery as exc:
        raise ApiError(400, "parameter_invalid", str(exc)) from exc
    conversations = workspace.searchable_conversations(time.time())
    matches = [c for c in conversations if predicate(c.search_record())]
    records = [c.search_record() for c in matches]
    page, pages = _search_page(fields, matches, records, per_page=CONVERSATION_SEARCH_PER_PAGE)
    return {
        "type": "conversation.list",
        "conversations": [c.list_item(workspace.contacts) for c in page],
        "total_count": len(matches),
        "pages": pages,
    }


def _search_page(
    fields: dict[str, Any], matches: list[T], records: list[dict[str, Any]], *, per_page: int
) -> tuple[list[T], dict[str, Any]]:
    """One page of search hits, sorted as `sort` asks (`records` are the hits' searchable fields,
    in the same order), and Intercom's `pages` with the cursor of the next one."""
    sort = fields.get("sort") or {}
    order = sort.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise ApiError(
            400, "invalid_sort_order", f"Invalid sort order '{order}'. Must be one of: ascending, descending"
        )
    sort_field = sort.get("field", "created_at")
    ranked = sorted(
        zip(matches, records, strict=True),
        key=lambda pair: (pair[1].get(sort_field) or 0, pair[1]["id"]),
        reverse=order == "descending",
    )
    pagination = fields.get("pagination") or {}
    per_page = min(int(pagination.get("per_page") or per_page), MAX_PER_PAGE)
    offset = _cursor_offset(pagination.get("starting_after"))
    page = [match for match, _ in ranked[offset : offset + per_page]]
    pages: dict[str, Any] = {
        "type": "pages",
        "page": offset // per_page + 1,
        "per_page": per_page,
        "total_pages": max((len(matches) + per_page - 1) // per_page, 1),
    }
    if offset + per_page < len(matches):
        cursor = base64.urlsafe_b64encode(str(offset + per_page).encode()).decode()
        pages["next"] = {"per_page": per_page, "starting_after": cursor}
    return page, pages


def _cursor_offset(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "parameter_invalid", "starting_after is not a cursor this search issued") from exc


def _list_contacts(workspace: Workspace, params: Mapping[str, str]) -> dict[str, Any]:
    """`GET /contacts`: merged-away contacts are left out. The cursor names the last contact
    served, not an offset, so contacts created during a pass land on a later page, not a repeat."""
    try:
        per_page = min(int(params.get("per_page") or LIST_PER_PAGE), MAX_PER_PAGE)
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", "per_page must be an integer") from exc
    if per_page < 1:
        raise ApiError(400, "parameter_invalid", "per_page must be at least 1")
    after, page_number = _list_cursor(workspace, params.get("starting_after"))
    ordered = list(workspace.contacts.values())
    begin = next(i for i, c in enumerate(ordered) if c.id == after) + 1 if after else 0
    remaining = [c for c in ordered[begin:] if c.merged_into is None]
    page = remaining[:per_page]
    total = len(workspace.live_contacts())
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page_number,
        "per_page": per_page,
        "total_pages": max((total + per_page - 1) // per_page, 1),
    }
    if len(remaining) > per_page:
        cursor = json.dumps({"after": page[-1].id, "page": page_number + 1})
        pages["next"] = {
            "page": page_number + 1,
            "starting_after": base64.urlsafe_b64encode(cursor.encode()).decode(),
        }
    return {"type": "list", "data": [c.to_json() for c in page], "total_count": total, "pages": pages}


def _list_cursor(workspace: Workspace, cursor: Any) -> tuple[str | None, int]:
    """(the id of the last contact served, the page number) from a list cursor; 400 as Intercom
    answers a cursor it did not issue."""
    if not cursor:
        return None, 1
    try:
        fields = json.loads(base64.urlsafe_b64decode(str(cursor).encode()).decode())
        after, page_number = str(fields["after"]), int(fields["page"])
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise _invalid_starting_after() from exc
    if after not in workspace.contacts:
        raise _invalid_starting_after()
    return after, page_number


def _invalid_starting_after() -> ApiError:
    return ApiError(
        400,
        "client_error",
        "Invalid starting_after param. "
        "Please try again using a starting_after value from a paginated response",
    )
