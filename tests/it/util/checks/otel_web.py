"""Exercise the otel_web venv as a traced service does: a FastAPI app instrumented with
opentelemetry-instrumentation-fastapi (which finds its instrumentor and the SDK's context through
entry points), spans recorded by the SDK in memory, requests through Starlette's TestClient (httpx).
Asserts what it expects and prints a deterministic JSON summary.
Usage: python otel_web.py [TMPDIR]"""

import importlib.metadata as md
import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "probe"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

app = FastAPI(title="probe")


class Item(BaseModel):
    name: str


@app.post("/items/{item_id}")
def put(item_id: int, item: Item):
    with trace.get_tracer("probe").start_as_current_span("work") as span:
        span.set_attribute("item.id", item_id)
        return {"id": item_id, "name": item.name}


FastAPIInstrumentor.instrument_app(app)
client = TestClient(app)
out = {}
r = client.post("/items/7", json={"name": "a"})
out["post"] = [r.status_code, r.json()]
assert out["post"] == [200, {"id": 7, "name": "a"}], out
r = client.post("/items/7", json={"nom": 1})
out["invalid"] = r.status_code
assert r.status_code == 422, out
spans = exporter.get_finished_spans()
out["spans"] = sorted({s.name for s in spans})
assert "work" in out["spans"] and any(s.startswith("POST /items/") for s in out["spans"]), out
work = next(s for s in spans if s.name == "work")
assert work.parent is not None and work.attributes["item.id"] == 7, work
out["versions"] = {d: md.version(d) for d in ("fastapi", "opentelemetry-sdk", "opentelemetry-instrumentation-fastapi")}
out["context_entry_points"] = sorted(ep.name for ep in md.entry_points(group="opentelemetry_context"))
print(json.dumps(out, sort_keys=True))
