"""Exercise the web venv the way a service does: FastAPI + pydantic validation + SQLAlchemy on
sqlite, served by uvicorn on uvloop + httptools over a loopback socket, one request at a time.
Asserts what it expects and prints a deterministic JSON summary (compared between the original and
the slimmed venv). Usage: python web.py"""

import asyncio
import json

import uvicorn
import uvloop
import yaml
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, create_engine, func, select
from sqlalchemy.pool import StaticPool
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))


# One shared in-memory database for the threadpool that runs sync endpoints.
engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
Base.metadata.create_all(engine)
app = FastAPI(title="probe")


class ItemIn(BaseModel):
    name: str


@app.post("/items")
def add(item: ItemIn):
    with Session(engine) as s:
        s.add(Item(name=item.name))
        s.commit()
        return {"count": s.scalar(select(func.count()).select_from(Item))}


@app.get("/items/{item_id}")
def get(item_id: int):
    with Session(engine) as s:
        item = s.get(Item, item_id)
        if item is None:
            raise HTTPException(404, "no such item")
        return {"id": item.id, "name": item.name}


async def request(port, method, path, body=b""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    status = int(raw.split(b" ", 2)[1])
    return status, json.loads(raw.split(b"\r\n\r\n", 1)[1])


async def main():
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, loop="uvloop", http="httptools", lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    results = {}
    try:
        results["post"] = await request(port, "POST", "/items", b'{"name": "a"}')
        results["get"] = await request(port, "GET", "/items/1")
        results["missing"] = await request(port, "GET", "/items/9")
        status, body = await request(port, "POST", "/items", b'{"nom": 1}')
        results["invalid"] = [status, [e["type"] for e in body["detail"]]]
        status, schema = await request(port, "GET", "/openapi.json")
        results["openapi"] = [status, sorted(schema["paths"])]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
    return results


results = uvloop.run(main())
assert results["post"] == (200, {"count": 1}), results
assert results["get"] == (200, {"id": 1, "name": "a"}), results
assert results["missing"][0] == 404, results
assert results["invalid"][0] == 422, results
results["yaml_libyaml"] = yaml.__with_libyaml__
assert yaml.__with_libyaml__, "PyYAML's C extension is gone"
print(json.dumps(results, sort_keys=True))
