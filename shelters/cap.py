"""Parsing and validation of OASIS CAP 1.2 alert messages (urn:oasis:names:tc:emergency:cap:1.2).

Parsing goes through defusedxml (no entity expansion, no external entities). Validation reports every
problem at once, each as a path and a bilingual message, so an integration can fix its feed in one go.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = {"cap": CAP_NS}

STATUS = {"Actual", "Exercise", "System", "Test", "Draft"}
MSG_TYPE = {"Alert", "Update", "Cancel", "Ack", "Error"}
SCOPE = {"Public", "Restricted", "Private"}
CATEGORY = {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE",
            "Other"}
URGENCY = {"Immediate", "Expected", "Future", "Past", "Unknown"}
SEVERITY = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
CERTAINTY = {"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
MAX_BYTES = 512 * 1024


class CapError(Exception):
    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()))
        self.problems = problems


@dataclass
class CapMessage:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (sender, identifier, sent)
    event: str = ""
    urgency: str = ""
    severity: str = ""
    certainty: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    effective: datetime | None = None
    expires: datetime | None = None
    area_descs: list[str] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)


def _parse_time(value: str) -> datetime | None:
    # CAP dateTime: 2026-07-10T16:49:00+09:00 — an offset is required; "Z" is not allowed by the spec
    # but is accepted here because real feeds send it.
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_cap(document: bytes) -> CapMessage:
    problems: dict[str, list[str]] = {}

    def problem(path: str, ja: str, en: str) -> None:
        problems.setdefault(path, []).append(f"{ja} / {en}")

    if len(document) > MAX_BYTES:
        raise CapError({"alert": [f"CAPメッセージが大きすぎます（{MAX_BYTES}バイトまで） / CAP message too large"]})
    try:
        root = SafeET.fromstring(document)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise CapError({"alert": [f"XMLとして解析できません: {exc} / Not well-formed XML: {exc}"]}) from None
    if root.tag != f"{{{CAP_NS}}}alert":
        raise CapError({"alert": [f"ルート要素はCAP 1.2の<alert>である必要があります / Root element must be "
                                  f"<alert> in namespace {CAP_NS}"]})

    def text(element, name: str, path: str, required: bool = True, allowed: set[str] | None = None) -> str:
        node = element.find(f"cap:{name}", _NS)
        value = (node.text or "").strip() if node is not None else ""
        if not value:
            if required:
                problem(path, f"必須要素<{name}>がありません", f"required element <{name}> is missing")
            return ""
        if allowed is not None and value not in allowed:
            problem(path, f"<{name}>の値「{value}」は使えません（{', '.join(sorted(allowed))}）",
                    f"<{name}> value '{value}' is not one of {', '.join(sorted(allowed))}")
        return value

    def time_of(element, name: str, path: str, required: bool) -> datetime | None:
        raw = text(element, name, path, required)
        if not raw:
            return None
        parsed = _parse_time(raw)
        if parsed is None:
            problem(path, f"<{name}>の日時「{raw}」はタイムゾーン付きISO 8601ではありません",
                    f"<{name}> '{raw}' is not an ISO 8601 date-time with offset")
        return parsed

    message = CapMessage(
        identifier=text(root, "identifier", "identifier"),
        sender=text(root, "sender", "sender"),
        sent=time_of(root, "sent", "sent", True),
        status=text(root, "status", "status", allowed=STATUS),
        msg_type=text(root, "msgType", "msgType", allowed=MSG_TYPE),
        scope=text(root, "scope", "scope", allowed=SCOPE),
    )
    if any(ch in message.identifier for ch in " ,<&"):
        problem("identifier", "identifierに空白・カンマ・<・&は使えません",
                "identifier must not contain spaces, commas, < or &")

    references = text(root, "references", "references", required=message.msg_type in {"Update", "Cancel"})
    for index, triple in enumerate(references.split()):
        parts = triple.split(",")
        if len(parts) != 3:
            problem(f"references.{index}", "referencesは sender,identifier,sent の形式です",
                    "each reference must be sender,identifier,sent")
        else:
            message.references.append((parts[0], parts[1], parts[2]))

    infos = root.findall("cap:info", _NS)
    if message.msg_type in {"Alert", "Update"} and not infos:
        problem("info", "<info>がありません", "an Alert or Update needs at least one <info>")
    if infos:
        info = infos[0]  # the first <info> (the feed's primary language) drives the push
        categories = [(node.text or "").strip() for node in info.findall("cap:category", _NS)]
        if not categories:
            problem("info.category", "必須要素<category>がありません", "required element <category> is missing")
        for value in categories:
            if value not in CATEGORY:
                problem("info.category", f"<category>の値「{value}」は使えません", f"<category> '{value}' is not allowed")
        message.event = text(info, "event", "info.event")
        message.urgency = text(info, "urgency", "info.urgency", allowed=URGENCY)
        message.severity = text(info, "severity", "info.severity", allowed=SEVERITY)
        message.certainty = text(info, "certainty", "info.certainty", allowed=CERTAINTY)
        message.headline = text(info, "headline", "info.headline", required=False)
        message.description = text(info, "description", "info.description", required=False)
        message.instruction = text(info, "instruction", "info.instruction", required=False)
        message.effective = time_of(info, "effective", "info.effective", False)
        message.expires = time_of(info, "expires", "info.expires", False)
        for area_index, area in enumerate(info.findall("cap:area", _NS)):
            desc = text(area, "areaDesc", f"info.area.{area_index}.areaDesc")
            if desc:
                message.area_descs.append(desc)
            for geocode in area.findall("cap:geocode", _NS):
                name = text(geocode, "valueName", f"info.area.{area_index}.geocode")
                value = text(geocode, "value", f"info.area.{area_index}.geocode")
                if name and value:
                    message.geocodes.append((name, value))
    if problems:
        raise CapError(problems)
    return message
