from enum import StrEnum

class ParkedRequestConsumer(StrEnum):
    CATALOG = "catalog"
    RELAY = "relay"
    SAGAS = "sagas"

    def __str__(self) -> str:
        return str(self.value)
