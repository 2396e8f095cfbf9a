//! Native tests of the SDK's own logic: the payload's JSON, configuration checks, the instance's fail-closed
//! behaviour, and the JSON block.

use crate::config::{check_keys, show};
use crate::render::json_block;
use crate::*;
use serde_json::json;

#[test]
fn payload_serialises_with_the_seed_keys_in_order_and_empty_ones_left_out() {
    let mut p = Payload::new(Status::Timeout);
    p.summary = "Timeout".into();
    p.stdout = vec!["partial".into()];
    p.error = Some("Execution timed out after 5s".into());
    p.timeout_seconds = Some(5);
    assert_eq!(
        p.to_json(),
        r#"{"status":"timeout","summary":"Timeout","stdout":["partial"],"error":"Execution timed out after 5s","timeoutSeconds":5}"#
    );
    let full = Payload {
        status: Status::ValidationError,
        summary: "s".into(),
        exit_code: Some(-1),
        servers: vec!["a".into()],
        stdout: vec!["o".into()],
        stderr: vec!["e".into()],
        error: Some("x".into()),
        timeout_seconds: Some(1),
        session: Some(crate::SessionInfo {
            name: "n".into(),
            call: 2,
            ended: Some("why".into()),
            replaces: None,
        }),
        files: vec![crate::FileInfo {
            name: "big.bin".into(),
            mime_type: None,
            bytes: 9,
            skipped: Some("over".into()),
        }],
    };
    assert_eq!(
        full.to_json(),
        r#"{"status":"validation_error","summary":"s","exitCode":-1,"servers":["a"],"stdout":["o"],"stderr":["e"],"error":"x","timeoutSeconds":1,"session":{"name":"n","call":2,"ended":"why"},"files":[{"name":"big.bin","bytes":9,"skipped":"over"}]}"#
    );
    // The summary is always there (the bridge always sets one; its output schema requires it).
    assert_eq!(
        Payload::new(Status::Success).to_json(),
        r#"{"status":"success","summary":""}"#
    );
}

#[test]
fn payload_deserialises_leniently_but_needs_a_status() {
    let p: Payload = serde_json::from_str(r#"{"status":"error","exitCode":3,"extra":1}"#).unwrap();
    assert_eq!(p.status, Status::Error);
    assert_eq!(p.exit_code, Some(3));
    assert_eq!(p.summary, "");
    assert!(serde_json::from_str::<Payload>(r#"{"summary":"s"}"#).is_err());
    assert!(serde_json::from_str::<Payload>(r#"{"status":"maybe"}"#).is_err());
    for status in [
        Status::Success,
        Status::Error,
        Status::Timeout,
        Status::ValidationError,
    ] {
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            json!(status.as_str())
        );
    }
}

#[test]
fn expect_empty_names_the_plugin_and_the_keys() {
    let c = |json| Config::new(Kind::Encoder, "compact", json).expect_empty();
    assert_eq!(c("{}"), Ok(()));
    assert_eq!(c(" { } "), Ok(()));
    assert_eq!(
        c(r#"{"indent":2,"color":true}"#),
        Err("encoder `compact` takes no configuration, unknown key(s): `color`, `indent`".into())
    );
    assert_eq!(c("[]"), Err("configuration must be a JSON object".into()));
    assert!(c("").unwrap_err().starts_with("configuration is not JSON"));
    assert_eq!(
        Config::new(Kind::Policy, "p", r#"{"a":1}"#).expect_empty(),
        Err("policy `p` takes no configuration, unknown key(s): `a`".into())
    );
}

#[test]
fn check_keys_names_unknown_keys_briefly() {
    let map = |v: serde_json::Value| v.as_object().unwrap().clone();
    assert_eq!(check_keys(&map(json!({"a": 1})), &["a", "b"], ""), Ok(()));
    assert_eq!(
        check_keys(&map(json!({"rule": 1})), &["rules", "default"], ""),
        Err(r#"unknown key "rule" (expected one of: rules, default)"#.into())
    );
    assert_eq!(
        check_keys(&map(json!({"z": 1, "y": 2, "a": 3})), &["a"], "run"),
        Err(r#"run: unknown keys "y", "z" (expected one of: a)"#.into())
    );
    assert_eq!(show(&json!("x".repeat(100))).chars().count(), 58);
    // Found by fuzzing (fuzz/fuzz_targets/rules.rs): a key of any length, or any number of keys, is named in
    // a message of bounded length.
    let long = map(json!({"k".repeat(5000): 1}));
    let error = check_keys(&long, &["a"], "rules[1]").unwrap_err();
    assert!(error.len() < 150, "{error}");
    assert!(
        error.starts_with(r#"rules[1]: unknown key "kkk"#),
        "{error}"
    );
    let many: serde_json::Map<String, serde_json::Value> =
        (0..1000).map(|i| (format!("k{i:04}"), json!(1))).collect();
    let error = check_keys(&many, &["a"], "").unwrap_err();
    assert_eq!(
        error,
        r#"unknown keys "k0000", "k0001", "k0002", "k0003", "k0004", and 995 more (expected one of: a)"#
    );
}

#[derive(Default)]
struct Strict {
    limit: u64,
}

impl Plugin for Strict {
    fn configure(&mut self, config: &Config<'_>) -> Result<(), String> {
        let map = config.object()?;
        check_keys(&map, &["limit"], "")?;
        self.limit = map
            .get("limit")
            .and_then(|v| v.as_u64())
            .ok_or("limit: expected a number")?;
        Ok(())
    }
}

impl Policy for Strict {
    fn check_call(&self, call: &CallRequest) -> Decision {
        if call.arguments.len() as u64 > self.limit {
            Decision::deny("too long")
        } else {
            Decision::Allow
        }
    }
}

impl Encoder for Strict {
    fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        Ok(Encoded::plain(format!(
            "{}:{}",
            self.limit,
            payload.status.as_str()
        )))
    }
}

impl Discovery for Strict {
    fn wanted_files(&self) -> Vec<FilePattern> {
        vec![FilePattern::new(Base::Home, "x.json")]
    }

    fn parse(&self, _file: &SourceFile) -> Result<Vec<ServerEntry>, String> {
        Ok(vec![ServerEntry::default()])
    }
}

#[test]
fn an_instance_fails_closed_until_configured_and_keeps_the_last_good_configuration() {
    let policy: Instance<Strict> = Instance::new(Kind::Policy, "strict");
    let call = CallRequest {
        arguments: "{}".into(),
        ..CallRequest::default()
    };
    assert_eq!(
        policy.check_call(&call),
        Decision::Deny("policy `strict` is not configured".into())
    );
    assert!(matches!(
        policy.check_run(&RunRequest::default()),
        Decision::Deny(_)
    ));
    assert!(matches!(
        policy.check_result(&CallResult::default()),
        ResultDecision::Deny(_)
    ));
    assert_eq!(
        policy.configure("{}"),
        Err("limit: expected a number".into())
    );
    policy.configure(r#"{"limit": 5}"#).unwrap();
    assert_eq!(policy.check_call(&call), Decision::Allow);
    assert_eq!(policy.check_run(&RunRequest::default()), Decision::Allow);
    assert_eq!(
        policy.check_result(&CallResult::default()),
        ResultDecision::Allow
    );
    assert!(policy.configure(r#"{"limit": 1, "x": 2}"#).is_err());
    assert_eq!(
        policy.check_call(&call),
        Decision::Allow,
        "the refused one left the old in place"
    );
    policy.configure(r#"{"limit": 1}"#).unwrap();
    assert_eq!(policy.check_call(&call), Decision::deny("too long"));

    let encoder: Instance<Strict> = Instance::new(Kind::Encoder, "strict");
    assert_eq!(
        encoder.encode(&Payload::new(Status::Success)),
        Err("encoder `strict` is not configured".into())
    );
    encoder.configure(r#"{"limit": 2}"#).unwrap();
    assert_eq!(
        encoder.encode(&Payload::new(Status::Success)).unwrap().text,
        "2:success"
    );

    let discovery: Instance<Strict> = Instance::new(Kind::Discovery, "strict");
    assert!(discovery.wanted_files().is_empty());
    let file = SourceFile {
        base: Base::Cwd,
        path: "x".into(),
        contents: String::new(),
    };
    assert!(discovery.parse(&file).is_err());
    discovery.configure(r#"{"limit": 2}"#).unwrap();
    assert_eq!(discovery.wanted_files().len(), 1);
    assert_eq!(discovery.parse(&file).unwrap().len(), 1);
}

#[test]
fn json_block_sorts_keys_at_every_level() {
    assert_eq!(
        json_block(json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}})).unwrap(),
        "```json\n{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      {\n        \"y\": 2,\n        \
         \"z\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n```"
    );
}

#[test]
fn requests_parse_their_json() {
    let call = CallRequest {
        arguments: r#"{"a": 1}"#.into(),
        ..CallRequest::default()
    };
    assert_eq!(call.arguments_json().unwrap(), json!({"a": 1}));
    let result = CallResult {
        call,
        result: "nope".into(),
    };
    assert!(
        result
            .result_json()
            .unwrap_err()
            .starts_with("result is not JSON")
    );
    assert_eq!(
        ResultDecision::replace(&json!({"content": []})),
        ResultDecision::Replace(r#"{"content":[]}"#.into())
    );
}
