from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="IssueWorkerCredentialPayload")



@_attrs_define
class IssueWorkerCredentialPayload:
    """ A credential for the agent's worker; the answer carries it, once.

     """






    def to_dict(self) -> dict[str, Any]:
        
        field_dict: dict[str, Any] = {}


        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        issue_worker_credential_payload = cls(
        )

        return issue_worker_credential_payload

