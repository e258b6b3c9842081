from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.agent_kind import AgentKind
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.executor_builtin import ExecutorBuiltin
  from ..models.executor_external import ExecutorExternal
  from ..models.executor_webhook import ExecutorWebhook
  from ..models.price_offer import PriceOffer





T = TypeVar("T", bound="UpdateAgentPayload")



@_attrs_define
class UpdateAgentPayload:
    """ Changes what is given; the rest stays. Each update that changes something is a new version.

        Attributes:
            executor (ExecutorBuiltin | ExecutorExternal | ExecutorWebhook | None | Unset):
            kind (AgentKind | None | Unset):
            name (None | str | Unset):
            price (None | PriceOffer | Unset):
     """

    executor: ExecutorBuiltin | ExecutorExternal | ExecutorWebhook | None | Unset = UNSET
    kind: AgentKind | None | Unset = UNSET
    name: None | str | Unset = UNSET
    price: None | PriceOffer | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.executor_builtin import ExecutorBuiltin # noqa: PLC0415
        from ..models.executor_external import ExecutorExternal # noqa: PLC0415
        from ..models.executor_webhook import ExecutorWebhook # noqa: PLC0415
        from ..models.price_offer import PriceOffer # noqa: PLC0415
        executor: dict[str, Any] | None | Unset
        if isinstance(self.executor, Unset):
            executor = UNSET
        elif isinstance(self.executor, ExecutorBuiltin):
            executor = self.executor.to_dict()
        elif isinstance(self.executor, ExecutorWebhook):
            executor = self.executor.to_dict()
        elif isinstance(self.executor, ExecutorExternal):
            executor = self.executor.to_dict()
        else:
            executor = self.executor

        kind: None | str | Unset
        if isinstance(self.kind, Unset):
            kind = UNSET
        elif isinstance(self.kind, AgentKind):
            kind = self.kind.value
        else:
            kind = self.kind

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        price: dict[str, Any] | None | Unset
        if isinstance(self.price, Unset):
            price = UNSET
        elif isinstance(self.price, PriceOffer):
            price = self.price.to_dict()
        else:
            price = self.price


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if executor is not UNSET:
            field_dict["executor"] = executor
        if kind is not UNSET:
            field_dict["kind"] = kind
        if name is not UNSET:
            field_dict["name"] = name
        if price is not UNSET:
            field_dict["price"] = price

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executor_builtin import ExecutorBuiltin # noqa: PLC0415
        from ..models.executor_external import ExecutorExternal # noqa: PLC0415
        from ..models.executor_webhook import ExecutorWebhook # noqa: PLC0415
        from ..models.price_offer import PriceOffer # noqa: PLC0415
        d = dict(src_dict)
        def _parse_executor(data: object) -> ExecutorBuiltin | ExecutorExternal | ExecutorWebhook | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
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
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_executor_type_2 = ExecutorExternal.from_dict(data)



                return componentsschemas_executor_type_2
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ExecutorBuiltin | ExecutorExternal | ExecutorWebhook | None | Unset, data)

        executor = _parse_executor(d.pop("executor", UNSET))


        def _parse_kind(data: object) -> AgentKind | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                kind_type_0 = AgentKind(data)



                return kind_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AgentKind | None | Unset, data)

        kind = _parse_kind(d.pop("kind", UNSET))


        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        def _parse_price(data: object) -> None | PriceOffer | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                price_type_0 = PriceOffer.from_dict(data)



                return price_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PriceOffer | Unset, data)

        price = _parse_price(d.pop("price", UNSET))


        update_agent_payload = cls(
            executor=executor,
            kind=kind,
            name=name,
            price=price,
        )

        return update_agent_payload

