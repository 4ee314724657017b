"""Files that ship inside the package (cards, data files, templates), found through
``importlib.resources`` so they resolve the same way in a checkout, an editable install and
an installed wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from roleplay.errors import RoleplayError


def package_path(package: str, *parts: str) -> Path:
    """The file or folder ``parts`` inside ``package``, as a filesystem path.

    Every supported install (checkout, editable, wheel) unpacks the package onto the disk;
    a zipped import cannot hand out paths, and is reported instead of failing later.
    """
    try:
        found = resources.files(package).joinpath(*parts)
    except ModuleNotFoundError as error:
        raise RoleplayError(
            f"the package data {package!r} is missing: reinstall roleplay ({error})"
        ) from None
    if not isinstance(found, Path):
        raise RoleplayError(
            f"{package}/{'/'.join(parts)}: roleplay must be installed on disk, not zipped"
        )
    return found
