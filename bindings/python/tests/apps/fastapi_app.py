import os

from fastapi import APIRouter, FastAPI, Request

import himetrica
from himetrica.asgi import HimetricaMiddleware

client = himetrica.Client(os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None)

app = FastAPI()
shop = APIRouter(prefix="/shop")


@app.get("/items/{item_id}")
async def item(item_id: int, request: Request) -> str:
    request.state.himetrica.track("viewed_item", properties={"item": item_id})
    return "ok"


@app.get("/boom")
async def boom() -> str:
    raise RuntimeError("boom")


@shop.get("/orders/{order}")
def order(order: str) -> str:  # a sync endpoint: FastAPI runs it in its thread pool
    return order


app.include_router(shop)
app.add_middleware(HimetricaMiddleware, client=client, track_requests=True)
