"""One request through a FastAPI app (routing, pydantic validation, JSON response) and a
SQLAlchemy query on in-memory SQLite, driven over ASGI without a network: a web service's
smoke test, as a workload for `venvslim slim --run` (tests/it/real_run.rs)."""

import asyncio
import json

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, Integer, String, create_engine, select
from sqlalchemy.orm import Session, declarative_base

Base = declarative_base()


class Row(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))


engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@app.post("/items")
async def create(item: Item):
    with Session(engine) as s:
        s.add(Row(name=item.name))
        s.commit()
        count = len(s.scalars(select(Row)).all())
    return {"name": item.name, "total": item.price * 2, "rows": count}


async def request(body):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "path": "/items", "raw_path": b"/items", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "scheme": "http", "server": ("test", 80), "client": ("client", 1),
    }
    await app(scope, receive, send)
    return sent


sent = asyncio.run(request(b'{"name": "widget", "price": 2.5}'))
assert sent[0]["status"] == 200, sent
assert json.loads(sent[1]["body"]) == {"name": "widget", "total": 5.0, "rows": 1}, sent
bad = asyncio.run(request(b'{"name": "widget"}'))
assert bad[0]["status"] == 422, bad
print("ok")
