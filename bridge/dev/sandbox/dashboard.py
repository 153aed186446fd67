"""The sandbox's one page: the workspace as a person wants to see it while trying the bridge."""

from __future__ import annotations

import datetime
from html import escape
from typing import Any

from bridge.dev.sandbox.state import Conversation, Part, Workspace
from bridge.model.media_types import shown_inline

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
.conv{border:1px solid #ddd;border-radius:8px;padding:.8rem 1rem;margin:.8rem 0}
.meta{color:#777;font-size:.85rem} .part{margin:.4rem 0 .4rem 1rem}
.user,.lead{color:#0b5} .admin{color:#06c} table{border-collapse:collapse}
td,th{border-bottom:1px solid #eee;padding:.2rem .6rem;text-align:left;font-size:.9rem}
form.reply{display:inline-block;margin:.4rem .4rem 0 1rem}
img.file{max-height:6rem;max-width:12rem;vertical-align:top;margin:.2rem .4rem;border:1px solid #ddd}
"""


def _time(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_dashboard(workspace: Workspace) -> str:
    contacts = workspace.contacts
    rows = "".join(
        f"<tr><td><code>{escape(c.id)}</code></td><td>{escape(c.role)}</td><td>{escape(c.name or '')}</td>"
        f"<td>{escape(c.phone or '')}</td><td>{escape(c.email or '')}</td>"
        f"<td>{_consent(workspace, c.id)}</td>"
        f"<td>{'merged into ' + escape(c.merged_into) if c.merged_into else ''}</td></tr>"
        for c in contacts.values()
    )
    conversations = []
    for conv in sorted(workspace.conversations.values(), key=lambda c: c.created_at, reverse=True):
        lines = [
            _line(
                workspace,
                conv.source_author,
                "comment",
                conv.source_body,
                [{"url": url} for url in conv.source_attachment_urls],
            )
        ]
        # In the order of their times, as Intercom's inbox shows them: a part given an earlier
        # `created_at` (a late message) sits where it belongs.
        lines += [
            _line(
                workspace, part.author, part.part_type, _part_body(workspace, part), _part_attachments(part)
            )
            for part in sorted(conv.parts, key=lambda part: part.created_at)
        ]
        meta = (
            f"conversation <code>{escape(conv.id)}</code> · {escape(conv.state)} · {_time(conv.created_at)}"
            f" · contacts {', '.join(escape(c) for c in conv.contact_ids)}"
            + (" · opened by the team" if conv.delivered_as == "admin_initiated" else "")
            + _context(workspace, conv)
        )
        actions = _actions(conv.id, conv.state)
        conversations.append(
            f'<div class="conv"><div class="meta">{meta}</div>{"".join(lines)}{actions}</div>'
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Intercom sandbox</title>"
        f"<meta http-equiv='refresh' content='5'><style>{_STYLE}</style></head><body>"
        f"<h1>Intercom sandbox</h1><p class='meta'>In-memory stand-in for Intercom's REST API "
        f"(API version 2.16). This page refreshes every 5 seconds.</p>"
        f"<h2>Conversations ({len(workspace.conversations)})</h2>"
        + ("".join(conversations) or "<p>None yet.</p>")
        + f"<h2>Contacts ({len(contacts)})</h2>"
        + (
            "<table><tr><th>id</th><th>role</th><th>name</th><th>phone</th><th>email</th><th>consent</th>"
            f"<th></th></tr>{rows}</table>"
            if rows
            else "<p>None yet.</p>"
        )
        + _subscription_types(workspace)
        + f"<script>{_SCRIPT}</script></body></html>"
    )


# The forms post their fields as JSON, the only body the control routes take (`bridge.dev.devtools`:
# a form's own encoding is what a cross-site page could post too).
_SCRIPT = """
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-action]");
  if (!form) return;
  event.preventDefault();
  const response = await fetch(form.dataset.action, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(Object.fromEntries(new FormData(form))),
  });
  if (!response.ok) alert(`The sandbox refused: ${response.status} ${await response.text()}`);
  location.reload();
});
"""


def _actions(conversation_id: str, state: str) -> str:
    """Reply as the sandbox's admin, or close/open: Intercom then tells the bridge by webhook."""
    base = f"/_sandbox/ui/conversations/{escape(conversation_id)}"
    toggle = "open" if state != "open" else "close"
    return (
        f'<form class="reply" data-action="{base}/reply">'
        '<input name="body" placeholder="Reply as the agent…" size="60"> <button>Reply</button></form>'
        f'<form class="reply" data-action="{base}/{toggle}">'
        f"<button>{toggle.capitalize()}</button></form>"
    )


def _line(
    workspace: Workspace,
    author: dict[str, object],
    part_type: str,
    body: str,
    attachments: list[dict[str, Any]],
) -> str:
    # As Intercom shows a nameless lead: by its phone number.
    contact = workspace.contacts.get(str(author.get("id", "")))
    phone = contact.phone if contact is not None else None
    who = escape(str(author.get("name") or phone or author.get("id", "")))
    kind = escape(str(author.get("type", "")))
    label = f" ({escape(part_type)})" if part_type != "comment" else ""
    files = _attachments(attachments)
    return f'<div class="part"><b class="{kind}">{who}</b>{label}: {escape(body)}{files}</div>'


def _context(workspace: Workspace, conv: Conversation) -> str:
    """Its tags, assignee and attributes, as agents and assignment rules see them."""
    shown = []
    if conv.tags:
        shown.append("tags " + ", ".join(f"<b>{escape(tag['name'])}</b>" for tag in conv.tags))
    assignee = (
        _assignee(workspace, "team", conv.team_assignee_id),
        _assignee(workspace, "admin", conv.admin_assignee_id),
    )
    if any(assignee):
        shown.append("assigned to " + " and ".join(escape(who) for who in assignee if who))
    if conv.custom_attributes:
        shown.append(
            " ".join(
                f"{escape(name)}=<code>{escape(str(value))}</code>"
                for name, value in conv.custom_attributes.items()
            )
        )
    return "".join(f" · {item}" for item in shown)


def _assignee(workspace: Workspace, kind: str, ident: int) -> str:
    if not ident:
        return ""
    known = workspace.teams if kind == "team" else workspace.admins
    name = next((str(item.get("name")) for item in known if str(item["id"]) == str(ident)), str(ident))
    return f"{kind} {name}"  # raw text: escaped where it is shown


def _part_body(workspace: Workspace, part: Part) -> str:
    """The part's text; for an assignment, to whom (Intercom's part has no body then)."""
    if part.part_type == "assignment":
        target = part.assigned_to or {}
        return f"→ {_assignee(workspace, str(target.get('type')), int(target.get('id') or 0)) or 'nobody'}"
    return part.body


def _part_attachments(part: Part) -> list[dict[str, Any]]:
    """What the part lists under `attachments`: the files it carried, else its links."""
    return list(part.to_json()["attachments"])


def _attachments(attachments: list[dict[str, Any]]) -> str:
    """Each attachment as a link; a file the sandbox holds by its name and size, a picture also
    as a thumbnail (an `<img>` runs no script, whatever the bytes are)."""
    shown = []
    for item in attachments:
        url = escape(str(item.get("url") or ""))
        if "filesize" not in item:
            shown.append(f' <a href="{url}">[attachment]</a>')
            continue
        size = f"{int(item['filesize']):,} bytes"
        thumbnail = (
            f'<img class="file" src="{url}" alt="">'
            if str(item.get("content_type", "")).startswith("image/") and shown_inline(item["content_type"])
            else ""
        )
        shown.append(f' <a href="{url}">{thumbnail}[{escape(str(item.get("name")))}, {size}]</a>')
    return "".join(shown)


def _consent(workspace: Workspace, contact_id: str) -> str:
    """The contact's choices as Intercom's tools read them: "SMS: opted out"."""
    return "<br>".join(
        f"{escape(kind.label)}: {'opted out' if kind.consent_type == 'opt_out' else 'opted in'}"
        for kind in workspace.subscriptions.of(contact_id)
    )


def _subscription_types(workspace: Workspace) -> str:
    kinds = workspace.subscriptions.types.values()
    items = "".join(
        f"<li>{escape(kind.name)} <span class='meta'>({escape(kind.label)}, {escape(kind.consent_type)},"
        f" {escape(kind.state)}, id <code>{escape(kind.id)}</code>)</span></li>"
        for kind in kinds
    )
    covers_sms = any("sms_message" in kind.content_types for kind in kinds)
    note = "" if covers_sms else "<p class='meta'>No subscription type covers SMS.</p>"
    return f"<h2>Subscription types ({len(kinds)})</h2><ul>{items}</ul>{note}"
