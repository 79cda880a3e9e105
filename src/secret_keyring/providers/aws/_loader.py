"""botocore's data loader, without the scan of every service directory on a client's first build.

Before it loads a service's model, botocore's ``Loader.load_service_model`` checks that the
service is one of ``list_available_services()``: a list it builds by listing every directory in
its data path (445 services in botocore 1.44: a ``listdir`` and a ``stat`` per version each) and
caches per loader and model type. A Secrets Manager client loads two model types (``service-2`` and
``endpoint-rule-set-1``), so every process pays the scan twice at start-up: 31-40 ms on a
benchmark machine whose whole cold start is ~500 ms, more on a slow or network file system.
botocore has an open pull request to skip it on the same grounds (boto/botocore#3687).

``list_available_services()`` here answers the membership test from the one service's directory
(``list_api_versions``, which botocore then uses anyway to pick the latest version, so the check
costs no extra file system call), and builds botocore's full sorted list only when something
iterates it: the ``UnknownServiceError`` message that lists the valid names, or
``get_available_services()``. A service is "in" exactly when botocore's own list would hold it:
a directory of that name in a search path with at least one version holding the model type.

Only sessions this package creates get this loader; a boto3 session passed in keeps its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import overload

import botocore.loaders
import botocore.session
from botocore.exceptions import DataNotFoundError

__all__ = ["new_session"]


def new_session(profile: str | None) -> botocore.session.Session:
    """A botocore session, as ``botocore.session.Session(profile=...)``, whose data loader
    checks a service by its own directory (see the module)."""
    session = botocore.session.Session(profile=profile)
    # botocore registers its loader the same way: built on first use, from the data_path
    # setting (AWS_DATA_PATH or the profile's data_path) as resolved then.
    session.lazy_register_component(
        "data_loader", lambda: _loader(session.get_config_variable("data_path"))
    )
    return session


def _loader(search_path_string: str | None) -> DirectLoader:
    # The search paths of botocore.loaders.create_loader(), in its order.
    stock = botocore.loaders.create_loader(search_path_string)
    return DirectLoader(extra_search_paths=stock.search_paths, include_default_search_paths=False)


class DirectLoader(botocore.loaders.Loader):
    """``botocore.loaders.Loader`` whose ``list_available_services`` is lazy (see the module)."""

    # A sequence rather than botocore's list: every use of it in botocore and boto3 is an `in`
    # test, an iteration or a join, which ServiceNames answers as the list would.
    def list_available_services(self, type_name: str) -> ServiceNames:  # type: ignore[override]
        return ServiceNames(self, type_name)

    def all_services(self, type_name: str) -> list[str]:
        """botocore's own sorted list (cached by the loader, like every listing)."""
        names: list[str] = botocore.loaders.Loader.list_available_services(self, type_name)
        return names


class ServiceNames(Sequence[str]):
    """The services that have ``type_name`` data: ``in`` looks at one directory, anything else
    lists them all (once per loader)."""

    def __init__(self, loader: DirectLoader, type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not _plain(name):
            # Not a directory name botocore's scan could have found; let the scan answer.
            return name in self._loader.all_services(self._type_name)
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:  # no directory of that name holds this model type
            return False
        except NotADirectoryError:
            # A file of that name beside the services (endpoints.json): botocore's location
            # check yields any existing path, and listing it fails. Not a service for its scan.
            return False

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._loader.all_services(self._type_name)[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loader.all_services(self._type_name))

    def __len__(self) -> int:
        return len(self._loader.all_services(self._type_name))

    def __eq__(self, other: object) -> bool:
        return list(self) == other

    def __repr__(self) -> str:
        return repr(list(self))

    __hash__ = None  # type: ignore[assignment]  # like the list it stands for


def _plain(name: str) -> bool:
    """A single directory entry: no separator, not ``.`` or ``..``, not empty."""
    if os.altsep and os.altsep in name:
        return False
    return name not in ("", ".", "..") and os.sep not in name
