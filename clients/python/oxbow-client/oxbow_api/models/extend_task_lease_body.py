from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from uuid import UUID






T = TypeVar("T", bound="ExtendTaskLeaseBody")



@_attrs_define
class ExtendTaskLeaseBody:
    """ 
        Attributes:
            attempt (int):
            run_id (UUID):
            step_id (str):
     """

    attempt: int
    run_id: UUID
    step_id: str





    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        run_id = str(self.run_id)

        step_id = self.step_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attempt": attempt,
            "run_id": run_id,
            "step_id": step_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        run_id = UUID(d.pop("run_id"))




        step_id = d.pop("step_id")

        extend_task_lease_body = cls(
            attempt=attempt,
            run_id=run_id,
            step_id=step_id,
        )

        return extend_task_lease_body

