import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import himetrica
from himetrica.asgi import HimetricaMiddleware

client = himetrica.Client(os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None)


async def item(request):
    request.scope["himetrica"].track("viewed_item", properties={"item": int(request.path_params["item_id"])})
    return PlainTextResponse("ok")


async def boom(request):
    raise RuntimeError("boom")


app = Starlette(routes=[Route("/items/{item_id}", item), Route("/boom", boom)])
app.add_middleware(HimetricaMiddleware, client=client, track_requests=True)
