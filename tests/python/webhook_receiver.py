"""A webhook agent that accepts only calls signed as Standard Webhooks specifies, checked with the
`standardwebhooks` package, as a receiver would, or with the worker SDK's helper
(`oxbow_worker.verify`) when told `oxbow`.

Usage: webhook_receiver.py SECRETS_FILE [standardwebhooks|oxbow]. Prints the port it listens on,
then serves: each call is
verified against every secret in SECRETS_FILE (one `whsec_...` a line, read on each call). A call
that verifies is answered 200 with `{"output": {"verified_with": <line>, "webhook_id", "traceparent"}}`;
any other 401.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRETS = sys.argv[1]
VERIFIER = sys.argv[2] if len(sys.argv) > 2 else "standardwebhooks"

if VERIFIER == "oxbow":
    from oxbow_worker import WebhookVerificationError
    from oxbow_worker import verify as oxbow_verify

    def verify(secret, body, headers):
        oxbow_verify(secret, body, headers)
else:
    from standardwebhooks import Webhook, WebhookVerificationError

    def verify(secret, body, headers):
        Webhook(secret).verify(body, headers)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {name: value for name, value in self.headers.items()}
        with open(SECRETS) as file:
            secrets = [line.strip() for line in file if line.strip()]
        for line, secret in enumerate(secrets):
            try:
                verify(secret, body, headers)
            except WebhookVerificationError:
                continue
            output = {
                "verified_with": line,
                "webhook_id": headers.get("webhook-id"),
                "traceparent": headers.get("traceparent"),
            }
            return self.answer(200, {"output": output})
        self.answer(401, {"error": "no secret verifies this call"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
