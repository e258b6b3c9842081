from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="Artifact")



@_attrs_define
class Artifact:
    """ A file a step produced, as metadata: the bytes stay in the user's object storage, at `uri`.

        Attributes:
            media_type (str):
            name (str): Unique within the step; versioned within the workspace.
            sha256 (str): The content's SHA-256, 64 lower-case hex digits.
            size (int):
            uri (str): `s3://`, `gs://`, `az://` or `https://`, never signed: the log keeps it for ever.
     """

    media_type: str
    name: str
    sha256: str
    size: int
    uri: str





    def to_dict(self) -> dict[str, Any]:
        media_type = self.media_type

        name = self.name

        sha256 = self.sha256

        size = self.size

        uri = self.uri


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "media_type": media_type,
            "name": name,
            "sha256": sha256,
            "size": size,
            "uri": uri,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        media_type = d.pop("media_type")

        name = d.pop("name")

        sha256 = d.pop("sha256")

        size = d.pop("size")

        uri = d.pop("uri")

        artifact = cls(
            media_type=media_type,
            name=name,
            sha256=sha256,
            size=size,
            uri=uri,
        )

        return artifact

