"""HTTP API of the registry: items, subjects, and the people around them."""

from services.registry.api import departments, imports, items, people, subjects

routers = [
    departments.router,
    items.router,
    subjects.router,
    people.router,
    imports.router,
]
