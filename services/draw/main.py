"""Draw service: 双随机 — subjects and inspectors drawn from a stored seed. Port 8003."""

from __future__ import annotations

from libs.common.service import ConsumerSpec, ServiceSpec, serve
from services.draw.api import router
from services.draw.application import DrawApplication
from services.draw.domain.draw import Draw
from services.draw.domain.errors import AlreadyDrawn, BatchNotDrawable, NoValidGroup, PoolEmpty
from services.draw.projections import pool

SPEC = ServiceSpec(
    name="draw",
    title="ssj draw — 双随机抽取",
    description="Reproducible, stratified draws of subjects and inspector groups per batch.",
    application=DrawApplication,
    routers=[router],
    read_model_ddl=pool.DDL,
    consumers=[
        ConsumerSpec(name="registry", source="registry", handler=pool.apply_registry),
        ConsumerSpec(name="planner", source="planner", handler=pool.apply_planner),
    ],
    aggregates=[Draw],
    domain_errors={
        PoolEmpty: (422, "Pool empty"),
        NoValidGroup: (422, "No valid inspector group"),
        BatchNotDrawable: (409, "Batch not drawable"),
        AlreadyDrawn: (409, "Already drawn"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
