"""Deterministic aggregate ids: the same natural key always names the same aggregate, so a
second registration of one USCC is an optimistic-concurrency conflict, not a duplicate, and
re-importing a row finds the record it made before.

Ids are public (in URLs, answers, draws). Those of records named by public codes (a
subject's USCC, an item's, a tag's or a department's code) are name-based UUIDs of the
code. Those of records named by private data (an inspector's certificate number 执法证号,
an expert's name, which inspector must not inspect which company) are keyed: HMAC-SHA256
under ``SSJ_ID_KEY`` (services/registry/settings.py), so a guess of the private data
cannot be checked against an id.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from services.registry.settings import id_key

NAMESPACE = uuid.UUID("5f3c8e0a-7d1b-4c52-9a8e-2b6f0d4e1a77")


def keyed_id(name: str) -> uuid.UUID:
    """A UUID (version 8, RFC 9562's custom one) of HMAC-SHA256(SSJ_ID_KEY, name)."""
    digest = hmac.new(id_key(), name.encode("utf-8"), hashlib.sha256).digest()
    value = int.from_bytes(digest[:16], "big")
    value &= ~(0xF000 << 64) & ~(0xC000 << 48)  # clear the version and variant bits
    value |= (0x8000 << 64) | (0x8000 << 48)  # version 8, RFC 4122 variant
    return uuid.UUID(int=value)


def item_id(code: str) -> uuid.UUID:
    """Id of the inspection item with this code."""
    return uuid.uuid5(NAMESPACE, f"item:{code}")


def subject_id(identifier: str) -> uuid.UUID:
    """Id of the subject with this USCC or non-market identifier (both public: the USCC
    is published by the national credit system)."""
    return uuid.uuid5(NAMESPACE, f"subject:{identifier}")


def inspector_id(department: str, certificate_no: str) -> uuid.UUID:
    """Id of the inspector holding this enforcement certificate in this department (keyed:
    certificate numbers are private and few enough to guess)."""
    return keyed_id(f"inspector:{department}:{certificate_no}")


def tag_id(code: str) -> uuid.UUID:
    """Id of a tag of the tag dictionary."""
    return uuid.uuid5(NAMESPACE, f"tag:{code}")


def conflict_id(inspector: uuid.UUID, subject: uuid.UUID) -> uuid.UUID:
    """Id of the conflict-of-interest record between one inspector and one subject (keyed:
    both ids are public, and whether a conflict exists between them is not)."""
    return keyed_id(f"conflict:{inspector}:{subject}")


def expert_id(field: str, name: str, organisation: str) -> uuid.UUID:
    """Id of an expert of the expert pool (keyed: a person's name)."""
    return keyed_id(f"expert:{field}:{name}:{organisation}")


def department_id(code: str) -> uuid.UUID:
    """Id of the department with this code in the department register."""
    return uuid.uuid5(NAMESPACE, f"department:{code}")
