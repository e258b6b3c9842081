from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from uuid import UUID
import datetime






T = TypeVar("T", bound="LeaseTasksResponse200TasksItem")



@_attrs_define
class LeaseTasksResponse200TasksItem:
    """ 
        Attributes:
            agent_id (UUID):
            attempt (int):
            deadline (datetime.datetime):
            input_ (Any):
            lease_expires_at (datetime.datetime):
            run_id (UUID):
            step_id (str):
            workspace_id (UUID):
            traceparent (str | Unset): W3C Trace Context of the trace the task was offered in, where traces are on: send it
                on the reports to continue it.
     """

    agent_id: UUID
    attempt: int
    deadline: datetime.datetime
    input_: Any
    lease_expires_at: datetime.datetime
    run_id: UUID
    step_id: str
    workspace_id: UUID
    traceparent: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        agent_id = str(self.agent_id)

        attempt = self.attempt

        deadline = self.deadline.isoformat()

        input_ = self.input_

        lease_expires_at = self.lease_expires_at.isoformat()

        run_id = str(self.run_id)

        step_id = self.step_id

        workspace_id = str(self.workspace_id)

        traceparent = self.traceparent


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "agent_id": agent_id,
            "attempt": attempt,
            "deadline": deadline,
            "input": input_,
            "lease_expires_at": lease_expires_at,
            "run_id": run_id,
            "step_id": step_id,
            "workspace_id": workspace_id,
        })
        if traceparent is not UNSET:
            field_dict["traceparent"] = traceparent

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        agent_id = UUID(d.pop("agent_id"))




        attempt = d.pop("attempt")

        deadline = datetime.datetime.fromisoformat(d.pop("deadline"))




        input_ = d.pop("input")

        lease_expires_at = datetime.datetime.fromisoformat(d.pop("lease_expires_at"))




        run_id = UUID(d.pop("run_id"))




        step_id = d.pop("step_id")

        workspace_id = UUID(d.pop("workspace_id"))




        traceparent = d.pop("traceparent", UNSET)

        lease_tasks_response_200_tasks_item = cls(
            agent_id=agent_id,
            attempt=attempt,
            deadline=deadline,
            input_=input_,
            lease_expires_at=lease_expires_at,
            run_id=run_id,
            step_id=step_id,
            workspace_id=workspace_id,
            traceparent=traceparent,
        )


        lease_tasks_response_200_tasks_item.additional_properties = d
        return lease_tasks_response_200_tasks_item

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
