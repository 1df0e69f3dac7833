import asyncio, uvloop
async def main():
    fut = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.01, fut.set_result, 21)
    return 2 * await fut
loop = uvloop.new_event_loop()
try:
    assert type(loop).__module__.startswith("uvloop"), type(loop)
    assert loop.run_until_complete(main()) == 42
finally:
    loop.close()
print("ok uvloop", uvloop.__version__)
