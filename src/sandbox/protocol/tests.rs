use serde_json::{Value, json};

use super::*;

/// A request as the runtime writes it (`mcp/_rpc.py`: `{"method": …, "params": …}` inside the frame).
fn parse(method: &str, params: Value) -> Result<Request, RequestError> {
    Request::parse(method, params)
}

fn problem(method: &str, params: Value) -> String {
    parse(method, params).unwrap_err().to_string()
}

/// The parameters a method takes, as its struct declares them: serde lists them when refusing an unknown one.
fn params_of(method: Method) -> Vec<&'static str> {
    match parse(method.name(), json!({"\u{0}": 0})) {
        Err(RequestError {
            problem: RequestProblem::Unknown { expected, .. },
            ..
        }) => expected.to_vec(),
        other => panic!("{method:?}: {other:?}"),
    }
}

/// PROTOCOL.md §5's table: (method, parameter names), in order.
fn documented_methods() -> Vec<(String, Vec<String>)> {
    let doc = include_str!("../PROTOCOL.md");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("5. Requests"))
        .expect("PROTOCOL.md has a section 5. Requests");
    let mut rows = Vec::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let Some(name) = cells[0]
            .strip_prefix("| `")
            .and_then(|rest| rest.strip_suffix('`'))
        else {
            continue;
        };
        let params = cells.get(1).copied().unwrap_or_default();
        // Backticked names outside parentheses; what parentheses hold describes a value.
        let mut names = Vec::new();
        let mut depth = 0;
        for (i, piece) in params.split('`').enumerate() {
            if i % 2 == 1 && depth == 0 {
                names.push(piece.to_string());
            } else if i % 2 == 0 {
                depth += piece.matches('(').count();
                depth -= piece.matches(')').count().min(depth);
            }
        }
        rows.push((name.to_string(), names));
    }
    rows
}

#[test]
fn protocol_md_documents_every_method_and_no_other() {
    let documented = documented_methods();
    assert!(
        documented.len() > 10,
        "the table was not found: {documented:?}"
    );
    let names: Vec<&str> = documented.iter().map(|(name, _)| name.as_str()).collect();
    for method in Method::all() {
        assert!(
            names.contains(&method.name()),
            "{} is not in PROTOCOL.md's method table",
            method.name()
        );
    }
    for name in &names {
        assert!(
            name.parse::<Method>().is_ok(),
            "PROTOCOL.md documents {name}, which the protocol does not have"
        );
    }
    assert_eq!(
        names.len(),
        Method::all().count(),
        "a method is documented twice"
    );
}

#[test]
fn protocol_md_documents_every_parameter_and_no_other() {
    for (name, documented) in documented_methods() {
        let Ok(method) = name.parse::<Method>() else {
            continue;
        };
        let mut declared = params_of(method);
        let mut documented: Vec<&str> = documented.iter().map(String::as_str).collect();
        declared.sort_unstable();
        documented.sort_unstable();
        assert_eq!(documented, declared, "the parameters of {name}");
    }
}

#[test]
fn method_names_are_the_wire_names() {
    for method in Method::all() {
        let request = match parse(method.name(), Value::Null) {
            Ok(request) => request,
            // Methods with required parameters: the error still names the method.
            Err(error) => {
                assert_eq!(error.method, Some(method));
                continue;
            }
        };
        assert_eq!(request.method(), method);
        assert_eq!(
            serde_json::to_value(&request).unwrap()["method"],
            method.name()
        );
    }
    assert_eq!(Method::list().split(", ").count(), Method::all().count());
}

#[test]
fn requests_as_the_runtime_sends_them_round_trip() {
    let sent = [
        ("list_servers", json!({})),
        ("list_tools", json!({"server": "github"})),
        (
            "call_tool",
            json!({"server": "github", "tool": "get_issue", "arguments": {"number": 7}}),
        ),
        (
            "query_tool_docs",
            json!({"server": "github", "tool": null, "detail": "summary"}),
        ),
        (
            "search_tool_docs",
            json!({"query": "issues", "limit": 5, "detail": "full"}),
        ),
        (
            "memory_save",
            json!({"key": "k", "value": [1, {"a": null}], "metadata": null}),
        ),
        ("memory_load", json!({"key": "k"})),
        ("memory_delete", json!({"key": "k"})),
        ("memory_info", json!({"key": "k"})),
        ("memory_list", json!({"cursor": 100})),
        (
            "tool_save",
            json!({"name": "double", "source": "def double(x):\n    return 2 * x\n"}),
        ),
        ("tool_load", json!({"name": "double"})),
        ("tool_list", json!({})),
        ("tool_delete", json!({"name": "double"})),
        (
            "attach",
            json!({"name": "plot.png", "data": "iVBORw0KGgo="}),
        ),
    ];
    assert_eq!(sent.len(), Method::all().count());
    for (method, params) in sent {
        let request = parse(method, params.clone()).unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(request.method().name(), method);
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire, json!({"method": method, "params": params}));
        assert_eq!(parse(method, wire["params"].clone()), Ok(request));
    }
}

#[test]
fn missing_and_null_optional_parameters_take_their_defaults() {
    assert_eq!(
        parse("search_tool_docs", json!({"query": "q", "limit": null})),
        Ok(Request::SearchToolDocs(SearchToolDocs {
            query: "q".into(),
            limit: SearchToolDocs::DEFAULT_LIMIT,
            detail: Detail::Summary,
        }))
    );
    assert_eq!(
        parse(
            "call_tool",
            json!({"server": "s", "tool": "t", "arguments": null})
        ),
        parse("call_tool", json!({"server": "s", "tool": "t"}))
    );
    assert_eq!(
        parse("memory_list", Value::Null),
        Ok(Request::MemoryList(MemoryList { cursor: 0 }))
    );
    let Ok(Request::MemorySave(save)) = parse("memory_save", json!({"key": "k"})) else {
        panic!("memory_save without value");
    };
    assert_eq!((save.value, save.metadata), (Value::Null, Value::Null));
    // Limits are brought into range, details read case-insensitively.
    let limit =
        |limit: Value| match parse("search_tool_docs", json!({"query": "q", "limit": limit})) {
            Ok(Request::SearchToolDocs(search)) => search.limit,
            other => panic!("{other:?}"),
        };
    assert_eq!(
        (limit(json!(0)), limit(json!(7)), limit(json!(10_000))),
        (1, 7, 50)
    );
    assert!(matches!(
        parse("query_tool_docs", json!({"server": "s", "detail": "FULL"})),
        Ok(Request::QueryToolDocs(QueryToolDocs {
            detail: Detail::Full,
            ..
        }))
    ));
}

#[test]
fn refusals_name_the_method_or_parameter_and_what_was_expected() {
    let unknown = parse("tool_saev", json!({"name": "x"})).unwrap_err();
    assert_eq!(unknown.method, None);
    assert!(
        unknown.to_string().starts_with(
            "Unknown RPC method \"tool_saev\"; the methods are list_servers, list_tools,"
        ),
        "{unknown}"
    );
    // A hostile name is echoed shortened.
    assert!(problem(&"m".repeat(10_000), json!({})).len() < 600);
    assert_eq!(
        problem("memory_load", json!([1])),
        "rpc params must be an object"
    );
    assert_eq!(problem("memory_load", json!({})), "missing parameter 'key'");
    assert_eq!(
        problem("memory_load", json!({"key": 1})),
        "'key' must be a string"
    );
    assert_eq!(
        problem("memory_list", json!({"cursor": -1})),
        "'cursor' must be a non-negative integer"
    );
    assert_eq!(
        problem("memory_load", json!({"key": "k", "value": 1})),
        "unknown parameter \"value\" (the parameters are key)"
    );
    assert_eq!(
        problem("tool_list", json!({"name": "x"})),
        "unknown parameter \"name\" (this method takes none)"
    );
    assert_eq!(
        problem(
            "call_tool",
            json!({"server": "s", "tool": "t", "arguments": [1]})
        ),
        "'arguments' must be an object"
    );
    assert_eq!(
        problem("query_tool_docs", json!({"server": "s", "tool": 3})),
        "'tool' must be a string when provided"
    );
    assert_eq!(
        problem("search_tool_docs", json!({"query": "q", "detail": "most"})),
        "'detail' must be 'name', 'summary' or 'full', not \"most\""
    );
    assert_eq!(
        problem("search_tool_docs", json!({"query": "q", "limit": "many"})),
        "'limit' must be a positive integer"
    );
    let name = problem("tool_save", json!({"name": "../x", "source": ""}));
    assert_eq!(
        name,
        "'name' is not a function name (a Python identifier of at most 100 characters): \"../x\""
    );
    let refused = parse("tool_delete", json!({"name": "1st"})).unwrap_err();
    assert_eq!(refused.method, Some(Method::ToolDelete));
}

#[test]
fn tool_names_are_identifiers() {
    assert!(ToolName::is_valid("_double2"));
    for bad in ["", "../evil", "1st", "a-b", "é", &"a".repeat(101)] {
        assert!(!ToolName::is_valid(bad), "{bad:?}");
    }
}

#[test]
fn replies_are_rpc_result_lines() {
    let ok = RpcResult {
        id: 3,
        outcome: Ok(Response::Memory(MemoryValue {
            found: true,
            value: Some(Value::Null),
        })),
    };
    assert_eq!(
        ok.to_line(),
        b"{\"t\":\"rpc_result\",\"id\":3,\"ok\":true,\"result\":{\"found\":true,\"value\":null}}\n"
    );
    let denied = RpcResult {
        id: 4,
        outcome: Err(RpcError::policy_denied("no")),
    };
    assert_eq!(
        denied.to_line(),
        b"{\"t\":\"rpc_result\",\"id\":4,\"ok\":false,\"error\":\"no\",\"kind\":\"policy_denied\"}\n"
    );
    let missing = Response::Memory(MemoryValue {
        found: false,
        value: None,
    });
    assert_eq!(
        serde_json::to_value(missing).unwrap(),
        json!({"found": false})
    );
    let page = Response::MemoryPage(MemoryPage {
        entries: vec![ListedMemory::Unreadable {
            key: "k".into(),
            error: "bad".into(),
        }],
        next: None,
    });
    assert_eq!(
        serde_json::to_value(page).unwrap(),
        json!({"entries": [{"key": "k", "error": "bad"}], "next": null})
    );
    assert_eq!(
        serde_json::to_value(Response::MemoryInfo(None)).unwrap(),
        Value::Null
    );
    let error: RpcError = parse("nope", Value::Null).unwrap_err().into();
    assert_eq!(error.kind, ErrorKind::Error);
}

#[test]
fn the_exit_record_is_one_closed_shape() {
    let record: StderrRecord = serde_json::from_str(r#"{"t":"exit","code":137}"#).unwrap();
    assert_eq!(record, StderrRecord::Exit { code: 137 });
    assert!(serde_json::from_str::<StderrRecord>(r#"{"t":"exit","code":0,"x":1}"#).is_err());
    assert!(serde_json::from_str::<StderrRecord>(r#"{"t":"done","code":0}"#).is_err());
}
