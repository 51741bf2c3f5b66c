"""A small service that hangs on shutdown: every worker swallows its cancellation."""

import asyncio
import logging


async def fetch(session, url):
    try:
        return await session.get(url)
    except asyncio.CancelledError:
        logging.info("fetch of %s cancelled", url)  # the task keeps running after cancel()


async def worker(queue, session):
    while True:
        url = await queue.get()
        try:
            await fetch(session, url)
        except:  # also catches CancelledError: the worker can never be stopped
            logging.exception("fetch failed")
        finally:
            queue.task_done()


async def heartbeat(client, stopping):
    try:
        await client.ping()
    except asyncio.CancelledError:
        if stopping:
            return  # swallowed on this path only
        raise


async def poll(device):
    try:
        await device.update()
    except BaseException:
        logging.exception("update failed")
