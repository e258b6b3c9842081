"""Decodes Oxbow's Kafka messages with the CloudEvents SDK's Kafka binding, as a consumer would.

Reads one message a line on stdin: {"headers": [[name, text], ...], "key": text, "value": text}.
Writes one line for each: the event's attributes, extensions included, as the SDK gives them.
"""

import json
import sys

from cloudevents.kafka import KafkaMessage, from_binary

for line in sys.stdin:
    message = json.loads(line)
    event = from_binary(
        KafkaMessage(
            headers={name: value.encode() for name, value in message["headers"]},
            key=message["key"].encode(),
            value=message["value"].encode(),
        )
    )
    attributes = {name: str(value) for name, value in event.get_attributes().items()}
    print(json.dumps({"attributes": attributes, "data": event.get_data()}), flush=True)
