"""HTTP API of the registry: items, subjects, and the people around them."""

from services.registry.api import counts, departments, imports, items, people, subjects

routers = [
    departments.router,
    items.router,
    subjects.router,
    counts.router,
    people.router,
    imports.router,
]
