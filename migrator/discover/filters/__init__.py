"""The filter pipeline: each filter drops candidates for one reason, in this order.

Cheap and certain reasons run first. The baseline is applied by the scanner after
fingerprinting, since it is keyed on fingerprints.
"""

from __future__ import annotations

from migrator.discover.filters.allow import AllowComment
from migrator.discover.filters.base import Filter
from migrator.discover.filters.examples import DocumentedExample
from migrator.discover.filters.hashes import HashOrChecksum
from migrator.discover.filters.placeholders import Placeholder
from migrator.discover.filters.prose import Prose
from migrator.discover.filters.public_material import PublicMaterial
from migrator.discover.filters.references import Reference
from migrator.discover.filters.uuids import UuidIdentifier
from migrator.discover.filters.value_shape import ValueShape


def default_filters() -> list[Filter]:
    return [
        Placeholder(),
        Reference(),
        DocumentedExample(),
        PublicMaterial(),
        HashOrChecksum(),
        UuidIdentifier(),
        Prose(),
        ValueShape(),
        AllowComment(),
    ]


__all__ = ["Filter", "default_filters"]
