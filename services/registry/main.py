"""Registry service: 一单两库 (item list, subject and inspector directories). Port 8001."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from services.registry.api import routers, tokens
from services.registry.application import RegistryApplication
from services.registry.domain.conflicts import Conflict
from services.registry.domain.departments import Department, UnknownDepartment
from services.registry.domain.errors import (
    InvalidIdentifier,
    InvalidItem,
    InvalidRecord,
    ItemStateError,
    NotFound,
    StaleVersion,
)
from services.registry.domain.inspectors import Expert, Inspector
from services.registry.domain.items import InspectionItem
from services.registry.domain.subjects import Subject
from services.registry.domain.tags import Tag
from services.registry.domain.tokens import RevokedToken
from services.registry.domain.writing import WriteForbidden
from services.registry.projections import views
from services.registry.settings import DEV_ID_KEY, RegistrySettings

SPEC = ServiceSpec(
    name="registry",
    title="ssj registry — 一单两库",
    description="Random-inspection item list, subject directory and inspector directory.",
    application=RegistryApplication,
    routers=[*routers, tokens.router],
    # The register consumer keeps the token deny-list only: the registry's writes read the
    # Department aggregates themselves.
    read_model_ddl=[*views.DDL, *register_ddl(departments=False)],
    consumers=[
        ConsumerSpec(
            name="views",
            source="registry",
            batch_handler=views.apply_batch,
            tables=(
                "items_view",
                "subjects_view",
                "inspectors_view",
                "experts_view",
                "tags_view",
                "conflicts_view",
                "departments_view",
            ),
        ),
        register_consumer("registry", departments=False),
    ],
    development_keys=lambda: {"SSJ_ID_KEY": RegistrySettings().id_key == DEV_ID_KEY},
    key_lengths=lambda: {"SSJ_ID_KEY": len(RegistrySettings().id_key)},
    aggregates=[
        Department,
        InspectionItem,
        Subject,
        Tag,
        Inspector,
        Expert,
        Conflict,
        RevokedToken,
    ],
    domain_errors={
        InvalidIdentifier: (422, "Invalid identifier"),
        InvalidItem: (422, "Invalid item"),
        InvalidRecord: (422, "Invalid record"),
        ItemStateError: (409, "Item state conflict"),
        StaleVersion: (409, "Conflict"),
        UnknownDepartment: (422, "Unknown department"),
        NotFound: (404, "Not found"),
        WriteForbidden: (403, "Forbidden"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
