"""What an issue is sent as: From, Reply-To, List-Id, the Message-ID domain and the list label
signed into its unsubscribe links.

An issue's identity is taken from the config when the issue is made (``identity_of``) and kept
with it, so a config changed between drafting and sending, or between a crash and the resumed
send, does not change what the editors approved nor what earlier messages of the issue carried.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from digest.mail import addressing, tokens
from digest.settings import DigestSettings


@dataclass(frozen=True)
class IssueIdentity:
    """What an issue is sent as: fixed when it is made, so a send resumed after the config
    changed goes on from the same address, in the same list, with the same Message-IDs and
    unsubscribe links."""

    from_addr: str
    reply_to: str | None
    list_id: str  # the List-Id header, "Title <label>"
    message_id_domain: str
    list_label: str  # signed into each reader's unsubscribe link

    def to_json(self) -> str:
        """The identity as a JSON object (how the store keeps it)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IssueIdentity:
        """Read back ``to_json``'s text; ``KeyError``/``ValueError`` when it is not one."""
        data = json.loads(text)
        return cls(str(data["from_addr"]), data.get("reply_to"), str(data["list_id"]),
                   str(data["message_id_domain"]), str(data["list_label"]))

    def changes(self, other: IssueIdentity) -> list[str]:
        """What differs in ``other`` (the config now), as "From: kept A (config now B)"."""
        names = {"from_addr": "From", "reply_to": "Reply-To", "list_id": "List-Id",
                 "message_id_domain": "Message-ID domain",
                 "list_label": "unsubscribe list label"}
        mine, theirs = asdict(self), asdict(other)
        return [f"{title}: kept {mine[key]!r} (config now {theirs[key]!r})"
                for key, title in names.items() if mine[key] != theirs[key]]


def identity_of(digest: DigestSettings) -> IssueIdentity:
    """The identity the ``digest:`` section gives an issue made now."""
    list_id = addressing.list_id(digest)
    return IssueIdentity(digest.from_addr, digest.reply_to, list_id,
                         addressing.from_domain(digest.from_addr), tokens.list_label(list_id))
