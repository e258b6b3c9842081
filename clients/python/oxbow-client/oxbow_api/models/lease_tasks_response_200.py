from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.lease_tasks_response_200_tasks_item import LeaseTasksResponse200TasksItem





T = TypeVar("T", bound="LeaseTasksResponse200")



@_attrs_define
class LeaseTasksResponse200:
    """ 
        Attributes:
            tasks (list[LeaseTasksResponse200TasksItem]):
     """

    tasks: list[LeaseTasksResponse200TasksItem]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.lease_tasks_response_200_tasks_item import LeaseTasksResponse200TasksItem # noqa: PLC0415
        tasks = []
        for tasks_item_data in self.tasks:
            tasks_item = tasks_item_data.to_dict()
            tasks.append(tasks_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "tasks": tasks,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.lease_tasks_response_200_tasks_item import LeaseTasksResponse200TasksItem # noqa: PLC0415
        d = dict(src_dict)
        tasks = []
        _tasks = d.pop("tasks")
        for tasks_item_data in (_tasks):
            tasks_item = LeaseTasksResponse200TasksItem.from_dict(tasks_item_data)



            tasks.append(tasks_item)


        lease_tasks_response_200 = cls(
            tasks=tasks,
        )


        lease_tasks_response_200.additional_properties = d
        return lease_tasks_response_200

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
