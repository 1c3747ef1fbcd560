from django.http import HttpRequest, HttpResponse


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    request.environ["himetrica"].track("viewed_item", properties={"item": item_id})
    return HttpResponse("ok")


def order(request: HttpRequest, order: str) -> HttpResponse:
    return HttpResponse(order)


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def archive(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)
