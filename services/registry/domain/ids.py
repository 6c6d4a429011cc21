"""Deterministic aggregate ids: the same identifier always names the same aggregate, so a
second registration of one USCC is an optimistic-concurrency conflict, not a duplicate."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("5f3c8e0a-7d1b-4c52-9a8e-2b6f0d4e1a77")


def item_id(code: str) -> uuid.UUID:
    """Id of the inspection item with this code."""
    return uuid.uuid5(NAMESPACE, f"item:{code}")


def subject_id(identifier: str) -> uuid.UUID:
    """Id of the subject with this USCC or non-market identifier."""
    return uuid.uuid5(NAMESPACE, f"subject:{identifier}")


def inspector_id(department: str, certificate_no: str) -> uuid.UUID:
    """Id of the inspector holding this enforcement certificate in this department."""
    return uuid.uuid5(NAMESPACE, f"inspector:{department}:{certificate_no}")


def tag_id(code: str) -> uuid.UUID:
    """Id of a tag of the tag dictionary."""
    return uuid.uuid5(NAMESPACE, f"tag:{code}")


def conflict_id(inspector: uuid.UUID, subject: uuid.UUID) -> uuid.UUID:
    """Id of the conflict-of-interest record between one inspector and one subject."""
    return uuid.uuid5(NAMESPACE, f"conflict:{inspector}:{subject}")


def expert_id(field: str, name: str, organisation: str) -> uuid.UUID:
    """Id of an expert of the expert pool."""
    return uuid.uuid5(NAMESPACE, f"expert:{field}:{name}:{organisation}")


def department_id(code: str) -> uuid.UUID:
    """Id of the department with this code in the department register."""
    return uuid.uuid5(NAMESPACE, f"department:{code}")
