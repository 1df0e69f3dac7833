"""Exercise packages that read their own or their dependencies' metadata at run time:
jupyter_events (its import chain calls importlib.metadata.version()) emitting a validated event,
and pydantic's EmailStr (checks version('email-validator')). Asserts what it expects and prints a
deterministic JSON summary. Usage: python jupyter_events.py"""

import io
import json
import logging

from jupyter_events import EventLogger
from pydantic import BaseModel, EmailStr

schema = {
    "$id": "http://event.venvslim.test/probe",
    "version": "1",
    "title": "probe",
    "description": "an event",
    "type": "object",
    "properties": {"thing": {"title": "thing", "description": "a thing", "type": "string"}},
    "required": ["thing"],
}
sink = io.StringIO()
logger = EventLogger(handlers=[logging.StreamHandler(sink)])
logger.register_event_schema(schema)
logger.emit(schema_id=schema["$id"], data={"thing": "x"})
event = json.loads(sink.getvalue())


class User(BaseModel):
    email: EmailStr


out = {"event": {k: event[k] for k in ("thing", "__schema__", "__schema_version__")}}
out["email"] = User(email="Someone@Example.com").email
assert out["event"]["thing"] == "x", out
print(json.dumps(out, sort_keys=True))
