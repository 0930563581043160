from tooluse_envs.parsing import extract_boxed, parse_openai_message, parse_turn, render_tool_call


def test_parses_several_calls_with_whitespace_and_string_arguments():
    text = (
        'Let me compute.\n<tool_call>\n  {"name": "add", "arguments": {"a": 1, "b": 2}}  \n</tool_call>'
        '<tool_call>{"name": "sqrt", "arguments": "{\\"x\\": 9}"}</tool_call>'
    )
    turn = parse_turn(text)
    assert turn.content == "Let me compute."
    assert [(c.name, c.arguments, c.error) for c in turn.calls] == [
        ("add", {"a": 1, "b": 2}, None),
        ("sqrt", {"x": 9}, None),
    ]


def test_rejects_what_is_not_a_call_object():
    bad = {
        "<tool_call>[1, 2]</tool_call>": "must be a JSON object",
        '<tool_call>{"name": 3}</tool_call>': "non-empty string",
        '<tool_call>{"name": "a", "arguments": [1]}</tool_call>': "must be an object",
        '<tool_call>{"name": "a", "args": {}}</tool_call>': "unexpected keys",
        '<tool_call>{"name": "a", "arguments": "{oops"}</tool_call>': "not valid JSON",
        "<tool_call>{not json}</tool_call>": "not valid JSON",
        "<tool_call>   </tool_call>": "empty",
        '<tool_call>{"name": "a"': "unclosed",
    }
    for text, message in bad.items():
        (call,) = parse_turn(text).calls
        assert call.error is not None and message in call.error, (text, call.error)


def test_missing_arguments_mean_no_arguments():
    (call,) = parse_turn('<tool_call>{"name": "list_tables"}</tool_call>').calls
    assert call.arguments == {} and call.error is None


def test_render_then_parse_round_trips():
    text = render_tool_call("power", {"base": 2, "exponent": 10})
    (call,) = parse_turn(text).calls
    assert (call.name, call.arguments) == ("power", {"base": 2, "exponent": 10})


def test_openai_message_with_tool_calls():
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}],
    }
    (call,) = parse_openai_message(message).calls
    assert (call.name, call.arguments) == ("add", {"a": 1, "b": 2})
    broken = parse_openai_message({"tool_calls": [{"type": "function"}]})
    assert broken.calls[0].error


def test_boxed_takes_last_balanced_box():
    assert extract_boxed(r"first \boxed{1} then \boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert extract_boxed(r"\boxed{7} and an unclosed \boxed{8") == "7"
    assert extract_boxed(r"\boxed{  }") is None
    assert extract_boxed("no box") is None
