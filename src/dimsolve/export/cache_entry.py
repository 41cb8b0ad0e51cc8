"""One cache entry: the GuardSet text, the key it was stored under and an HMAC over both.

An entry is trusted only when everything checks out: the exact fields, this format and version,
the key asked for, the MAC under the cache's secret, a GuardSet the parser reads (never
``eval``/pickle) and the recorded inputs. Anything else is ``None``, and the caller rebuilds it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json

from dimsolve.guards.model import GuardSet

ENTRY_FORMAT = "dimsolve-guardset-cache"
ENTRY_VERSION = 2  # 2: an HMAC under a secret kept outside the cache (1 had a plain sha256)
_ENTRY_FIELDS = {"format", "version", "key", "hmac", "guardset"}


class Lookup(str, enum.Enum):
    HIT = "hit"
    MISS = "miss"
    CORRUPT = "corrupt"  # an entry existed but did not check out; it was removed


def encode_entry(key: str, guardset_json: str, secret: bytes) -> str:
    """The entry's file text; ``guardset_json`` must come from ``guards.serialize.to_json``."""
    entry = {
        "format": ENTRY_FORMAT,
        "version": ENTRY_VERSION,
        "key": key,
        "hmac": entry_mac(secret, key, guardset_json),
        "guardset": guardset_json,
    }
    return json.dumps(entry, sort_keys=True)


def entry_mac(secret: bytes, key: str, text: str) -> str:
    message = "\0".join((ENTRY_FORMAT, str(ENTRY_VERSION), key, text)).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def decode_entry(raw: bytes, key: str, secret: bytes) -> GuardSet | None:
    from dimsolve.guards.serialize import GuardSetFormatError, from_json

    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or set(entry) != _ENTRY_FIELDS:
        return None
    text, mac = entry["guardset"], entry["hmac"]
    if (entry["format"], entry["version"], entry["key"]) != (ENTRY_FORMAT, ENTRY_VERSION, key) or not isinstance(text, str):
        return None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, entry_mac(secret, key, text)):
        return None
    try:
        guardset = from_json(text)
    except GuardSetFormatError:
        return None
    return guardset if guardset.meta.get("inputs") else None
