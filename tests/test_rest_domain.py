"""The REST domain: OpenAPI -> tools, the services' behaviour on both transports, tasks and references."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator

from tooluse_envs.domains.rest import RestDomain, local_client, operations, service_tools
from tooluse_envs.env import ToolUseEnv
from tooluse_envs.errors import ConfigError
from tooluse_envs.oracle import play_reference
from tooluse_envs.rest import services
from tooluse_envs.rest.client import RestClient
from tooluse_envs.rest.hub import build_hub
from tooluse_envs.rest.openapi import HTTP_METHODS, build_request, spec_operations
from tooluse_envs.rest.service import Call, Reply, Service
from tooluse_envs.rest.services import bank, calendar, weather
from tooluse_envs.rest.transport import InProcessTransport, LoopbackServer, running_servers
from tooluse_envs.tasks import SPLITS, load_tasks

TASKS_DIR = Path(__file__).resolve().parent.parent / "tasks" / "rest"


# -- OpenAPI -> tools --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", services.ALL)
def test_every_operation_becomes_one_tool_with_a_valid_schema(name):
    service = services.load(name)
    declared = [(path, m) for path, item in service.spec["paths"].items() for m in HTTP_METHODS if m in item]
    ops = spec_operations(name, service.spec, prefix=f"/{name}")
    assert len(ops) == len(declared) == len({op.name for op in ops})
    for op in ops:
        Draft202012Validator.check_schema(op.parameters)
        tool = op.tool()
        assert tool.schema["function"]["name"] == op.name and tool.description
        assert op.parameters["additionalProperties"] is False
        assert set(op.path_params) <= set(op.required)
        assert ("access_token" in op.required) == op.secured


def test_every_task_offers_first_a_tool_with_a_required_argument():
    ops = operations()
    for split in SPLITS:
        for task in load_tasks("rest", split):
            assert ops[task.tools[0]].required, task.id


TOY_SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Toy", "version": "1"},
    "paths": {
        "/notes/{note_id}": {
            "put": {
                "operationId": "put_note",
                "parameters": [
                    {"name": "note_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "draft", "in": "query", "schema": {"type": "boolean"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}},
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/notes": {
            "post": {
                "operationId": "post_raw",
                "parameters": [{"name": "text", "in": "query", "schema": {"type": "string"}}],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": {"text": {"type": "string"}}}}
                    }
                },
                "responses": {"201": {"description": "ok"}},
            }
        },
    },
    "components": {
        "schemas": {"Note": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}
    },
}


def test_tool_schema_flattens_the_body_and_the_executor_maps_arguments_back():
    put, post = spec_operations("toy", TOY_SPEC, prefix="/toy")
    assert put.parameters["required"] == ["note_id", "text"] and put.body_fields == ("text",)
    assert post.body_whole and "body" in post.parameters["properties"]  # "text" clashes with the query parameter
    request = build_request(put, {"note_id": "a/b c", "draft": True, "text": "hi"})
    assert (request.method, request.path) == ("PUT", "/toy/notes/a%2Fb%20c")
    assert request.params == {"draft": "true"} and request.json == {"text": "hi"}


def test_a_new_service_needs_only_its_document_and_handlers():
    def put_note(call: Call) -> dict:
        call.tables["notes"][call.params["note_id"]] = {"id": call.params["note_id"], **call.body}
        return call.tables["notes"][call.params["note_id"]]

    toy = Service(
        "toy",
        TOY_SPEC,
        {"put_note": put_note, "post_raw": lambda call: Reply(201, call.body)},
        seed=lambda: {"notes": {}},
    )
    client = RestClient(httpx.Client(transport=InProcessTransport(build_hub([toy])), base_url="http://t"))
    ops = {op.name: op for op in spec_operations("toy", TOY_SPEC, prefix="/toy")}
    episode = client.open_episode()
    assert (
        client.execute(ops["put_note"], {"note_id": "n1", "text": "hi"}, episode).observation()
        == 'HTTP 200: {"id": "n1", "text": "hi"}'
    )
    assert client.execute(ops["post_raw"], {"body": {"text": 5}}, episode).status == 422  # server validates too
    assert client.state(episode, ["toy"]) == {"toy": {"notes": [{"id": "n1", "text": "hi"}]}}
    client.close()


# -- the services, on both transports ----------------------------------------------------------------


@pytest.fixture(params=["inprocess", "http"])
def api(request):
    """call(name, **arguments) -> ApiResponse in a fresh episode, over the given transport."""
    domain = RestDomain(transport=request.param)
    client = domain.client()
    episode = client.open_episode()
    ops = operations()

    def call(name, _episode=None, **arguments):
        return client.execute(ops[name], arguments, _episode or episode)

    call.client = client
    yield call
    domain.close()


def _login(api, user="maria", episode=None):
    password = bank.seed()["users"][user]["password"]
    return api("create_token", _episode=episode, username=user, password=password).body["access_token"]


SCRIPT = [
    ("get_forecast", {"city": "Oslo", "date": "2025-06-03", "units": "imperial"}),
    ("get_forecast", {"city": "Atlantis", "date": "2025-06-03"}),
    ("create_event", {"title": "X", "date": "2025-06-02", "start": "09:00", "end": "09:15"}),
    ("search_products", {"category": "toys", "limit": 3, "offset": 3}),
    ("create_order", {"customer": "Ann", "items": [{"product_id": "P-1001", "quantity": 1}]}),
    ("cancel_order", {"order_id": "O-1181"}),
    ("cancel_order", {"order_id": "O-1181"}),
    ("list_accounts", {"access_token": "nope"}),
    ("search_books", {"author": "Kenji Mori", "limit": 2}),
    ("book_flight", {"flight_id": "FL-99999", "passenger": "Ann"}),
]


def test_both_transports_give_identical_responses_for_a_scripted_sequence():
    observations = {}
    for transport in ("inprocess", "http"):
        domain = RestDomain(transport=transport)
        client, ops = domain.client(), operations()
        episode = client.open_episode()
        observations[transport] = [client.execute(ops[n], a, episode).observation() for n, a in SCRIPT]
        domain.close()
    assert observations["inprocess"] == observations["http"]
    assert [o.split(":")[0] for o in observations["http"]] == [
        "HTTP 200",
        "HTTP 404",
        "HTTP 409",
        "HTTP 200",
        "HTTP 201",
        "HTTP 200",
        "HTTP 409",
        "HTTP 401",
        "HTTP 200",
        "HTTP 404",
    ]


def test_errors_come_back_as_json_with_their_status(api):
    missing = api("get_order", order_id="O-0")
    assert missing.status == 404 and missing.body["error"] == "not_found"
    conflict = api("create_event", title="Clash", date="2025-06-02", start="09:00", end="09:20")
    assert conflict.status == 409 and conflict.body["conflicting_event"]["id"] == "evt_0001"
    bad_range = api("create_event", title="Backwards", date="2025-06-02", start="17:00", end="16:00")
    assert bad_range.status == 422 and bad_range.body["error"] == "invalid_time_range"
    raw = api.client.http.get("/shop/products", params={"limit": "lots"}, headers={"x-episode-id": "default"})
    assert raw.status_code == 422 and "limit" in raw.json()["detail"]
    assert api.client.http.post("/bank/auth/token", content=b"{not json").status_code == 422


def test_rate_limit_answers_429_with_retry_after(api):
    answers = [api("get_current_weather", city="Rome") for _ in range(weather.RATE_LIMIT + 2)]
    assert [a.status for a in answers] == [200] * weather.RATE_LIMIT + [429, 429]
    assert answers[-1].headers["retry-after"] == "60" and answers[-1].body["error"] == "rate_limited"
    assert api("get_product", product_id="P-1001").status == 200  # other services keep their own quota


def test_auth_flow(api):
    assert api("list_accounts", access_token="tok_guess").status == 401
    assert api("create_token", username="maria", password="wrong").status == 401
    token = _login(api)
    accounts = api("list_accounts", access_token=token).body["accounts"]
    assert accounts and {a["type"] for a in accounts} >= {"checking", "savings"}
    other = next(a for a in bank.seed()["accounts"].values() if a["owner"] != "maria")
    assert api("get_account", access_token=token, account_id=other["id"]).status == 404  # not yours
    other_episode = api.client.open_episode()
    assert api("list_accounts", _episode=other_episode, access_token=token).status == 401  # tokens are per episode
    assert _login(api, episode=other_episode) == token  # deterministic, so references replay


def test_limit_offset_pagination_walks_every_row_once(api):
    seen, offset, pages = [], 0, 0
    while offset is not None:
        page = api("list_orders", status="delivered", limit=7, offset=offset).body
        seen += [o["id"] for o in page["items"]]
        offset, pages = page["next_offset"], pages + 1
    assert len(seen) == len(set(seen)) == page["total"] and pages == -(-page["total"] // 7) > 1


def test_cursor_pagination_walks_every_row_once(api):
    token = _login(api)
    checking = next(a for a in api("list_accounts", access_token=token).body["accounts"] if a["type"] == "checking")
    seen, cursor = [], None
    while True:
        page = api(
            "list_transactions",
            access_token=token,
            account_id=checking["id"],
            limit=4,
            **({"cursor": cursor} if cursor else {}),
        ).body
        seen += [t["id"] for t in page["transactions"]]
        if not (cursor := page["next_cursor"]):
            break
    expected = [t for t in bank.seed()["transactions"].values() if t["account_id"] == checking["id"]]
    assert sorted(seen) == sorted(t["id"] for t in expected) and len(seen) > 4
    bad = api("list_transactions", access_token=token, account_id=checking["id"], cursor="garbage")
    assert bad.status == 422


def test_episodes_are_isolated(api):
    assert api("cancel_order", order_id="O-1181").status == 404
    assert api("create_order", customer="Ann", items=[{"product_id": "P-1001", "quantity": 1}]).status == 201
    other = api.client.open_episode()
    assert api("get_order", _episode=other, order_id="O-1181").status == 404
    assert (
        api("create_order", _episode=other, customer="Bo", items=[{"product_id": "P-1001", "quantity": 1}]).body["id"]
        == "O-1181"
    )
    first = api.client.state(api.client.open_episode(), ["shop"])["shop"]["products"]
    assert (
        next(p for p in first if p["id"] == "P-1001")["stock"]
        == services.load("shop").seed()["products"]["P-1001"]["stock"]
    )
    api.client.close_episode(other)
    assert api("get_order", _episode=other, order_id="O-1181").status == 400  # closed episodes are gone


# -- tasks and the environment -------------------------------------------------------------------------


def test_split_sizes_services_and_file_sizes():
    counts = {split: len(load_tasks("rest", split)) for split in SPLITS}
    assert counts["train"] >= 2000 and counts["test_id"] >= 300 and counts["test_ood"] >= 360
    for split in ("train", "test_id"):
        assert not {s for t in load_tasks("rest", split) for s in t.tags} & set(services.OUT_OF_DOMAIN)
    ood_tags = {s for t in load_tasks("rest", "test_ood") for s in t.tags}
    assert set(services.OUT_OF_DOMAIN) | {"pagination", "error", "state"} <= ood_tags
    train_questions = {t.question for t in load_tasks("rest", "train")}
    assert not train_questions & {t.question for t in load_tasks("rest", "test_id")}
    assert all((TASKS_DIR / f"{split}.jsonl").stat().st_size < 5_000_000 for split in SPLITS)


@pytest.mark.parametrize("split", ["test_id", "test_ood"])
def test_generation_is_deterministic_and_matches_the_committed_files(split):
    generated = [json.dumps(t.to_dict(), sort_keys=True) for t in RestDomain().generate(split)]
    committed = (TASKS_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert generated == [json.dumps(json.loads(line), sort_keys=True) for line in committed]


@pytest.mark.parametrize("split", SPLITS)
def test_reference_of_every_task_succeeds_in_process(split):
    env = ToolUseEnv(domain="rest", split=split, reward="outcome")
    failures = [task.id for task in env.tasks if play_reference(env, task.id)[0] != 1.0]
    env.close()
    assert not failures, failures[:5]


def test_references_succeed_over_http_and_the_server_stops_on_close():
    env = ToolUseEnv(domain="rest", split="test_ood", reward="outcome", transport="http")
    assert not running_servers()  # started lazily, at the first reset
    tasks = env.tasks[::10]
    assert all(play_reference(env, task.id)[0] == 1.0 for task in tasks)
    ((server, users),) = running_servers().values()
    assert server.running and users == 1
    env.close()
    assert not server.running and not running_servers()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass


def test_base_url_points_the_env_at_a_running_server():
    server = LoopbackServer(build_hub([services.load(name) for name in services.ALL]))
    try:
        env = ToolUseEnv(domain="rest", split="test_id", base_url=server.url)
        assert all(play_reference(env, task.id)[0] == 1.0 for task in env.tasks[:20])
        env.close()
        assert server.running  # not ours to stop
    finally:
        server.stop()


def _state_task(tag: str):
    return next(t for t in load_tasks("rest", "test_ood") if t.tags[0] == tag)


def _play(env, task, calls, answer="\\boxed{done}"):
    env.reset(options={"task_id": task.id})
    for name, arguments in calls:
        env.step(f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>")
    _, reward, terminated, _, info = env.step(answer)
    assert terminated
    return reward, info


def test_state_tasks_pass_with_the_right_calls_and_fail_with_wrong_ones():
    env = ToolUseEnv(domain="rest", split="test_ood", reward="outcome")
    task = _state_task("cancel_order")
    right = task.reference.tool_calls[0].arguments["order_id"]
    wrong = next(
        o["id"] for o in services.load("shop").seed()["orders"].values() if o["status"] == "placed" and o["id"] != right
    )
    assert _play(env, task, [("cancel_order", {"order_id": right})])[0] == 1.0
    reward, info = _play(env, task, [("cancel_order", {"order_id": wrong})])
    assert reward == 0.0 and info["tool_episode"]["check"]["failed_checks"]
    assert _play(env, task, [("cancel_order", {"order_id": right}), ("cancel_order", {"order_id": wrong})])[0] == 0
    assert _play(env, task, [], answer="\\boxed{done}")[0] == 0.0  # claiming success changes nothing
    create = _state_task("create_event")
    arguments = create.reference.tool_calls[0].arguments
    assert _play(env, create, [("create_event", arguments)])[0] == 1.0
    assert _play(env, create, [("create_event", {**arguments, "location": "Mars"})])[0] == 0.0
    free_day = next(
        day
        for day in calendar.WORKDAYS
        if day != arguments["date"]
        and not any(e["date"] == day and e["end"] > "17:30" for e in calendar.seed()["events"].values())
    )
    extra = {**arguments, "date": free_day, "start": "17:30", "end": "18:00"}
    assert _play(env, create, [("create_event", arguments), ("create_event", extra)])[0] == 0.0  # one too many
    env.close()


def test_in_process_transport_works_inside_a_running_event_loop():
    client = local_client()

    async def inside() -> int:
        return client.http.get("/").status_code

    assert asyncio.run(inside()) == 200
    client.close()


def test_options_are_checked():
    with pytest.raises(ConfigError, match="unknown transport"):
        ToolUseEnv(domain="rest", split="test_id", transport="carrier-pigeon")
    with pytest.raises(ConfigError, match="does not take"):
        ToolUseEnv(domain="rest", split="test_id", transprot="http")
    assert service_tools(("bank",))[0] == "create_token"
