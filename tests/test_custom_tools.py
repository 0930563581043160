import pytest
from gymnasium.utils.env_checker import check_env

from tooluse_envs import make_env
from tooluse_envs.errors import ConfigError, ToolDefinitionError
from tooluse_envs.oracle import play_reference
from tooluse_envs.tools import function_tool


def get_price(item: str, quantity: int = 1) -> float:
    """Price of some units of an item, in dollars.

    Args:
        item: The item's name.
        quantity: How many units.
    """
    return {"apple": 0.5, "pear": 0.75}[item] * quantity


TASKS = [
    {
        "id": "apples",
        "question": "What do 4 apples cost?",
        "answer": 2,
        "reference": [("get_price", {"item": "apple", "quantity": 4})],
    },
    {
        "id": "fruit",
        "question": "Which is dearer, an apple or a pear?",
        "answer": "pear",
        "reference": [("get_price", {"item": "apple"}), ("get_price", {"item": "pear"})],
    },
]


def test_schema_comes_from_signature_and_docstring():
    schema = function_tool(get_price).schema["function"]
    assert schema["description"] == "Price of some units of an item, in dollars."
    assert schema["parameters"]["properties"] == {
        "item": {"type": "string", "description": "The item's name."},
        "quantity": {"type": "integer", "description": "How many units."},
    }
    assert schema["parameters"]["required"] == ["item"]


def test_a_few_lines_make_a_working_env():
    env = make_env(tools=[get_price], tasks=TASKS, reward="mentor")
    check_env(env, skip_render_check=True)
    for task in TASKS:
        reward, info = play_reference(env, task["id"])
        assert reward == pytest.approx(1.1) and info["tool_episode"]["success"]
    env.reset(options={"task_id": "apples"})
    obs, *_ = env.step('<tool_call>{"name": "get_price", "arguments": {"item": "kiwi"}}</tool_call>')
    assert "KeyError" in obs


def test_bad_tools_and_tasks_fail_early_and_clearly():
    def untyped(x):
        """Does nothing."""

    with pytest.raises(ToolDefinitionError, match="type annotation"):
        make_env(tools=[untyped], tasks=TASKS)
    with pytest.raises(ConfigError, match="needs id, question and answer"):
        make_env(tools=[get_price], tasks=[{"id": "x", "question": "?"}])


INVENTORY_SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "inventory", "version": "1"},
    "paths": {
        "/items/{sku}": {
            "get": {
                "operationId": "get_item",
                "summary": "Look up an item by SKU.",
                "parameters": [{"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the item"}, "404": {"description": "unknown SKU"}},
            }
        }
    },
}


def inventory_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    stock = {"A1": {"sku": "A1", "name": "lamp", "count": 7}}

    async def get_item(request):
        sku = request.path_params["sku"]
        if sku not in stock:
            return JSONResponse({"detail": f"no item {sku}"}, status_code=404)
        return JSONResponse(stock[sku])

    return Starlette(routes=[Route("/items/{sku}", get_item)])


def test_an_openapi_document_and_a_base_url_make_a_working_env():
    from tooluse_envs.rest.transport import LoopbackServer

    server = LoopbackServer(inventory_app())
    try:
        task = {
            "id": "lamps",
            "question": "How many lamps (SKU A1) are in stock?",
            "answer": 7,
            "reference": [("get_item", {"sku": "A1"})],
        }
        env = make_env(openapi=INVENTORY_SPEC, base_url=server.url, tasks=[task], reward="mentor")
        _, info = env.reset()
        assert [t["function"]["name"] for t in info["tools"]] == ["get_item"]
        obs, *_ = env.step('<tool_call>{"name": "get_item", "arguments": {"sku": "Z9"}}</tool_call>')
        assert obs.startswith("<tool_response>\nHTTP 404:") and "no item Z9" in obs
        reward, info = play_reference(env, "lamps")
        assert reward == pytest.approx(1.1)
        assert info["messages"][3]["content"].startswith("HTTP 200:")
    finally:
        server.stop()
