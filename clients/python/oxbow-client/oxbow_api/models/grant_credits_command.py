from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.grant_credits_payload import GrantCreditsPayload





T = TypeVar("T", bound="GrantCreditsCommand")



@_attrs_define
class GrantCreditsCommand:
    """ 
        Attributes:
            id (UUID): The aggregate's id; the client chooses it for creating commands.
            payload (GrantCreditsPayload):
            type_ (Literal['GrantCredits']):
            expected_version (int | Unset): Optimistic concurrency: the version the aggregate must be at.
     """

    id: UUID
    payload: GrantCreditsPayload
    type_: Literal['GrantCredits']
    expected_version: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.grant_credits_payload import GrantCreditsPayload # noqa: PLC0415
        id = str(self.id)

        payload = self.payload.to_dict()

        type_ = self.type_

        expected_version = self.expected_version


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "id": id,
            "payload": payload,
            "type": type_,
        })
        if expected_version is not UNSET:
            field_dict["expected_version"] = expected_version

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.grant_credits_payload import GrantCreditsPayload # noqa: PLC0415
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        payload = GrantCreditsPayload.from_dict(d.pop("payload"))




        type_ = cast(Literal['GrantCredits'] , d.pop("type"))
        if type_ != 'GrantCredits':
            raise ValueError(f"type must match const 'GrantCredits', got '{type_}'")

        expected_version = d.pop("expected_version", UNSET)

        grant_credits_command = cls(
            id=id,
            payload=payload,
            type_=type_,
            expected_version=expected_version,
        )

        return grant_credits_command

