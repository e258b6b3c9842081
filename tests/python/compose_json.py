"""Prints a compose file as JSON, anchors and merge keys resolved: `python3 compose_json.py FILE`."""

import json
import sys

import yaml

with open(sys.argv[1]) as compose:
    print(json.dumps(yaml.safe_load(compose)))
