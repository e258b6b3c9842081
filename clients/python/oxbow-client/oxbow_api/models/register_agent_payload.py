from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.agent_kind import AgentKind
from typing import cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.executor_builtin import ExecutorBuiltin
  from ..models.executor_external import ExecutorExternal
  from ..models.executor_webhook import ExecutorWebhook
  from ..models.price_offer import PriceOffer





T = TypeVar("T", bound="RegisterAgentPayload")



@_attrs_define
class RegisterAgentPayload:
    """ 
        Attributes:
            executor (ExecutorBuiltin | ExecutorExternal | ExecutorWebhook): Where a step's task is carried out.
            kind (AgentKind):
            name (str):
            price (PriceOffer): A price as a command states it: a fee per call and a rate for input and for output tokens.
                For one release the single `per_1k_tokens` of before is still taken, for both rates where
                they are not given.
            workspace_id (UUID):
     """

    executor: ExecutorBuiltin | ExecutorExternal | ExecutorWebhook
    kind: AgentKind
    name: str
    price: PriceOffer
    workspace_id: UUID





    def to_dict(self) -> dict[str, Any]:
        from ..models.executor_builtin import ExecutorBuiltin # noqa: PLC0415
        from ..models.executor_external import ExecutorExternal # noqa: PLC0415
        from ..models.executor_webhook import ExecutorWebhook # noqa: PLC0415
        from ..models.price_offer import PriceOffer # noqa: PLC0415
        executor: dict[str, Any]
        if isinstance(self.executor, ExecutorBuiltin):
            executor = self.executor.to_dict()
        elif isinstance(self.executor, ExecutorWebhook):
            executor = self.executor.to_dict()
        else:
            executor = self.executor.to_dict()


        kind = self.kind.value

        name = self.name

        price = self.price.to_dict()

        workspace_id = str(self.workspace_id)


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "executor": executor,
            "kind": kind,
            "name": name,
            "price": price,
            "workspace_id": workspace_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executor_builtin import ExecutorBuiltin # noqa: PLC0415
        from ..models.executor_external import ExecutorExternal # noqa: PLC0415
        from ..models.executor_webhook import ExecutorWebhook # noqa: PLC0415
        from ..models.price_offer import PriceOffer # noqa: PLC0415
        d = dict(src_dict)
        def _parse_executor(data: object) -> ExecutorBuiltin | ExecutorExternal | ExecutorWebhook:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_executor_type_0 = ExecutorBuiltin.from_dict(data)



                return componentsschemas_executor_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_executor_type_1 = ExecutorWebhook.from_dict(data)



                return componentsschemas_executor_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_executor_type_2 = ExecutorExternal.from_dict(data)



            return componentsschemas_executor_type_2

        executor = _parse_executor(d.pop("executor"))


        kind = AgentKind(d.pop("kind"))




        name = d.pop("name")

        price = PriceOffer.from_dict(d.pop("price"))




        workspace_id = UUID(d.pop("workspace_id"))




        register_agent_payload = cls(
            executor=executor,
            kind=kind,
            name=name,
            price=price,
            workspace_id=workspace_id,
        )

        return register_agent_payload

