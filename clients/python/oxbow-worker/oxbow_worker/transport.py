"""JSON over HTTP to Oxbow, with the retries a worker needs: a request that was throttled
(429) or met an unavailable server (503, or no connection) is sent again after the wait the
server asked for (``Retry-After``) or a growing one, under the same idempotency key."""

import json
import time
import urllib.error
import urllib.request

RETRIED_STATUSES = (429, 502, 503, 504)


class Problem(Exception):
    """An answer Oxbow refused with: its status and its problem+json body (``code``, ``detail``)."""

    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.code = self.body.get("code")
        super().__init__(f"{status} {self.code}: {self.body.get('detail', body)}")


class Client:
    def __init__(self, base_url, credential, timeout=40.0, attempts=6):
        self.base_url = base_url.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        self.attempts = attempts

    def post(self, path, body, idempotency_key=None, timeout=None, traceparent=None):
        """POSTs ``body``; the answer's JSON, or :class:`Problem` once retrying is pointless."""
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.credential}"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        if traceparent:
            headers["traceparent"] = traceparent
        wait = 0.2
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                payload = _json(error.read())
                if error.code not in RETRIED_STATUSES or attempt == self.attempts - 1:
                    raise Problem(error.code, payload) from None
                wait = _retry_after(error.headers.get("retry-after"), wait)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if attempt == self.attempts - 1:
                    raise
            time.sleep(wait)
            wait = min(wait * 2, 10.0)
        raise AssertionError("unreachable")


def _json(data):
    try:
        return json.loads(data)
    except ValueError:
        return {"detail": data.decode(errors="replace")}


def _retry_after(header, default):
    try:
        return max(float(header), 0.0)
    except (TypeError, ValueError):
        return default
