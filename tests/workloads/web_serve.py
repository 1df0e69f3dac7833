"""The web service as it runs in production: the FastAPI app of web_request.py served by uvicorn
(with uvloop and httptools, what `uvicorn[standard]` picks) on a loopback port, one real HTTP
request and one validation error through it, then a clean shutdown. A workload for
`venvslim slim --prune --run`: what it does not use is what the server does not need."""

import http.client
import json
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The app, its model and its database come from the request workload; importing it also runs
# that workload once over ASGI.
import web_request  # noqa: E402

# The server answers from its own thread: one shared in-memory database for all of them.
web_request.engine = create_engine(
    "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
)
web_request.Base.metadata.create_all(web_request.engine)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]

config = uvicorn.Config(web_request.app, host="127.0.0.1", port=port, log_level="warning")
server = uvicorn.Server(config)
thread = threading.Thread(target=server.run, daemon=True)
thread.start()
deadline = time.monotonic() + 30
while not server.started:
    if time.monotonic() > deadline or not thread.is_alive():
        sys.exit("uvicorn did not start")
    time.sleep(0.05)


def post(body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/items", body=body, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


status, data = post(b'{"name": "gadget", "price": 4.0}')
assert status == 200, (status, data)
assert json.loads(data)["total"] == 8.0, data
status, _ = post(b'{"price": 1}')
assert status == 422, status
server.should_exit = True
thread.join(30)
print("served ok", config.loop, config.http)
