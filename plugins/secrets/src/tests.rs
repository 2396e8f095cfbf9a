//! Native tests: each rule on a realistic credential and on lookalikes, reasons that never carry the secret,
//! exact redaction, configuration errors, and the plugin driven as the bridge drives it.

use crate::config::Settings;
use crate::rules::{self, BUILTINS};
use crate::{NAME, Secrets};
use mcp_bridge_plugin_sdk::{
    CallRequest, CallResult, Decision, Instance, Kind, ResultDecision, RunPurpose, RunRequest,
};
use serde_json::{Value, json};

/// A token body of `n` characters mixing cases and digits, as real keys do.
fn body(n: usize) -> String {
    "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7xC0fR"
        .chars()
        .cycle()
        .take(n)
        .collect()
}

/// (rule, a realistic secret) for every built-in rule but the assignment rules, which need a name.
fn samples() -> Vec<(&'static str, String)> {
    vec![
        (
            "private-key",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98xYz\nQ2hK9v3LmN0pR5sT8uW1xZ4a\n-----END RSA PRIVATE KEY-----"
                .into(),
        ),
        ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE".into()),
        ("aws-access-key-id", "ASIAY34FZKBOKMUTVV7A".into()),
        ("github-token", format!("ghp_{}", body(36))),
        ("github-token", format!("gho_{}", body(36))),
        ("github-token", format!("ghs_{}", body(36))),
        ("github-token", format!("github_pat_11ABCDEFG0_{}", body(59))),
        ("gitlab-token", format!("glpat-{}", body(20))),
        (
            "slack-webhook",
            "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/Xy3Zq8Wb5Kp2Lm9Nr4Ts7Vu1".into(),
        ),
        ("slack-token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".into()),
        ("anthropic-api-key", format!("sk-ant-api03-{}", body(93))),
        ("openai-api-key", format!("sk-proj-{}", body(64))),
        ("openai-api-key", format!("sk-{}", body(48))),
        ("stripe-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc".into()),
        ("stripe-key", format!("rk_live_{}", body(24))),
        ("google-api-key", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY".into()),
        (
            "jwt",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
                .into(),
        ),
    ]
}

fn policy(config: Value) -> Instance<Secrets> {
    let instance = Instance::new(Kind::Policy, NAME);
    instance
        .configure(&config.to_string())
        .unwrap_or_else(|e| panic!("{config} refused: {e}"));
    instance
}

fn call(arguments: Value) -> CallRequest {
    CallRequest {
        run_id: "run-1".into(),
        server: "acme".into(),
        tool: "create_issue".into(),
        arguments: arguments.to_string(),
        ..CallRequest::default()
    }
}

fn reason(decision: Decision) -> String {
    match decision {
        Decision::Deny(why) | Decision::Ask(why) => why,
        Decision::Allow => panic!("allowed"),
    }
}

/// No piece of the secret longer than four characters is in `text` (rule names aside: `github_pat_…` shares
/// `github` with the rule `github-token`).
fn assert_hidden(text: &str, secret: &str) {
    let mut text = text.to_string();
    for b in BUILTINS {
        text = text.replace(b.name, "");
    }
    let chars: Vec<char> = secret.chars().collect();
    for window in chars.windows(5) {
        let piece: String = window.iter().collect();
        assert!(
            !text.contains(&piece),
            "{text:?} shows {piece:?} of the secret"
        );
    }
}

fn configure_error(config: Value) -> String {
    let instance: Instance<Secrets> = Instance::new(Kind::Policy, NAME);
    match instance.configure(&config.to_string()) {
        Ok(()) => panic!("{config} accepted"),
        Err(e) => e,
    }
}

fn redacted(p: &Instance<Secrets>, result: Value) -> Option<Value> {
    match p.check_result(&CallResult {
        call: call(json!({})),
        result: result.to_string(),
    }) {
        ResultDecision::Replace(json) => Some(serde_json::from_str(&json).unwrap()),
        ResultDecision::Allow => None,
        ResultDecision::Deny(why) => panic!("denied: {why}"),
    }
}

// ---- check-call ----

#[test]
fn every_rule_fires_on_a_realistic_credential_and_the_reason_hides_it() {
    let p = policy(json!({}));
    for (rule, secret) in samples() {
        let why = reason(p.check_call(&call(json!({"body": format!("use {secret} here")}))));
        assert!(why.contains(&format!("(rule {rule}")), "{rule}: {why}");
        assert!(why.contains("arguments.body"), "{why}");
        assert!(
            why.starts_with("secrets: the call to acme.create_issue was blocked: "),
            "{why}"
        );
        assert_hidden(&why, &secret);
    }
}

#[test]
fn public_prefixes_are_shown_but_nothing_more() {
    let p = policy(json!({}));
    let secret = format!("ghp_{}", body(36));
    let why = reason(p.check_call(&call(
        json!({"headers": {"Authorization": format!("token {secret}")}}),
    )));
    assert_eq!(
        why,
        "secrets: the call to acme.create_issue was blocked: arguments.headers.Authorization holds a GitHub \
         token (rule github-token, ghp_…)"
    );
    // Passwords and key material show nothing at all.
    let why = reason(p.check_call(&call(json!({"db": {"password": "Xk9#mP2$vL5qR8wT"}}))));
    assert_eq!(
        why,
        "secrets: the call to acme.create_issue was blocked: arguments.db.password holds a high-entropy value \
         assigned to a secret-looking name (rule secret-assignment)"
    );
}

#[test]
fn assignments_are_found_in_text_and_in_json_keys() {
    let p = policy(json!({}));
    for arguments in [
        json!({"env": "DB_PASSWORD=Xk9#mP2$vL5qR8wT"}),
        json!({"config": "api_key: \"Zq7Lm2Xc9Vb4Nn8Kp3Rt\""}),
        json!({"apiKey": "Zq7Lm2Xc9Vb4Nn8Kp3Rt"}),
        json!({"client_secret": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}),
        json!({"headers": {"Authorization": "Bearer Zq7Lm2Xc9Vb4Nn8Kp3RtYw"}}),
        json!({"curl": "curl -H 'Authorization: Bearer Zq7Lm2Xc9Vb4Nn8Kp3RtYw' https://x"}),
        json!({"url": "https://api.example.com/v1?access_key=Zq7Lm2Xc9Vb4Nn8Kp3Rt&x=1"}),
        json!({"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
        json!({"text": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
    ] {
        let decision = p.check_call(&call(arguments.clone()));
        assert!(matches!(decision, Decision::Deny(_)), "{arguments}");
        let why = reason(decision);
        assert!(
            why.contains("rule secret-assignment") || why.contains("rule aws-secret-access-key"),
            "{arguments}: {why}"
        );
    }
    let why = reason(p.check_call(&call(
        json!({"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
    )));
    assert!(why.contains("rule aws-secret-access-key"), "{why}");
}

#[test]
fn lookalikes_are_allowed() {
    let p = policy(json!({}));
    for arguments in [
        json!({"body": "The password is stored in the vault; rotate the token every 90 days."}),
        json!({"body": "Password: see the onboarding doc. Token: ask Sam."}),
        json!({"id": "123e4567-e89b-12d3-a456-426614174000"}),
        json!({"sha": "3f786850e387550fdab836ed7e6dc881de23001b", "ref": "refs/heads/main"}),
        json!({"model": "sk-learn-classifier-model-version-two"}),
        json!({"title": "task-management-dashboard-redesign-2024"}),
        json!({"short": "AKIA1234", "gh": "ghp_short", "slack": "xoxb-1"}),
        json!({"max_tokens": 4096, "next_page_token": "CiAKGjBpNDd2Nmp2Zml6dDI0", "pageToken": "Q2lBS0dqQnBORGQy"}),
        json!({"token_type": "Bearer", "expires_in": 3600}),
        json!({"password": "${DB_PASSWORD}", "secret": "<your secret here>", "token": "********"}),
        json!({"password": "hunter2"}),
        json!({"token": "authentication"}),
        json!({"author": "Jane Doe-Smith 2024!"}),
        json!({"b64": "eyJhIjoxfQ==", "pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZI\n-----END PUBLIC KEY-----"}),
        json!({"stripe": "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "publishable": "pk_live_4eC39HqLyjWDarjtT1zdp7dc"}),
        json!({"query": "select * from users where token_count = 12 and ratio = 0.5"}),
        json!({"list": [1, true, null, 2.5], "nested": {"deep": [{"name": "x"}]}}),
    ] {
        assert_eq!(
            p.check_call(&call(arguments.clone())),
            Decision::Allow,
            "{arguments}"
        );
    }
}

#[test]
fn secrets_are_found_anywhere_in_the_arguments_including_keys() {
    let p = policy(json!({}));
    let secret = format!("ghp_{}", body(36));
    let why = reason(p.check_call(&call(json!({"items": [{"a": 1}, {"b": ["x", secret]}]}))));
    assert!(
        why.contains("arguments.items[1].b[1] holds a GitHub token"),
        "{why}"
    );
    let why = reason(p.check_call(&call(json!({"tokens": {secret.clone(): true}}))));
    assert!(
        why.contains("a key of arguments.tokens holds a GitHub token"),
        "{why}"
    );
    assert_hidden(&why, &secret);
    // A path through a key that holds a secret names the rule instead.
    let arguments = json!({secret.clone(): {"key": "AKIAIOSFODNN7EXAMPLE"}});
    let why = reason(p.check_call(&call(arguments.clone())));
    assert!(
        why.contains("a key of arguments holds a GitHub token"),
        "{why}"
    );
    assert!(why.ends_with("(and 1 more secret)"), "{why}");
    assert_hidden(&why, &secret);
    let settings = Settings::parse(&serde_json::Map::new()).unwrap();
    let findings = settings.scanner.scan_json(&arguments, "arguments");
    assert_eq!(findings[1].path, "arguments[REDACTED:github-token].key");
    assert_eq!(findings[1].prefix.as_deref(), Some("AKIA"));
    // Odd keys are quoted.
    let why = reason(p.check_call(&call(json!({"x y": "AKIAIOSFODNN7EXAMPLE"}))));
    assert!(why.contains(r#"arguments["x y"] holds"#), "{why}");
}

#[test]
fn the_earlier_rule_names_an_overlap() {
    let p = policy(json!({}));
    let why = reason(p.check_call(&call(json!({"k": format!("sk-ant-api03-{}", body(93))}))));
    assert!(why.contains("rule anthropic-api-key"), "{why}");
    let why = reason(p.check_call(&call(
        json!({"env": format!("GITHUB_TOKEN=ghp_{}", body(36))}),
    )));
    assert!(why.contains("rule github-token"), "{why}");
}

#[test]
fn call_modes_ask_and_redact() {
    let secret = "AKIAIOSFODNN7EXAMPLE";
    let ask = policy(json!({"mode": "ask"}));
    match ask.check_call(&call(json!({"k": secret}))) {
        Decision::Ask(question) => {
            assert!(
                question.ends_with("Send this call to acme.create_issue anyway?"),
                "{question}"
            );
            assert_hidden(&question, secret);
        }
        other => panic!("{other:?}"),
    }
    let redact = policy(json!({"mode": "redact"}));
    assert_eq!(
        redact.check_call(&call(json!({"k": secret}))),
        Decision::Allow
    );
}

#[test]
fn servers_disable_patterns_and_allow() {
    let only_slack = policy(json!({"servers": ["slack"]}));
    assert_eq!(
        only_slack.check_call(&call(json!({"k": "AKIAIOSFODNN7EXAMPLE"}))),
        Decision::Allow
    );
    let no_aws = policy(json!({"disable": ["aws-access-key-id"]}));
    assert_eq!(
        no_aws.check_call(&call(json!({"k": "AKIAIOSFODNN7EXAMPLE"}))),
        Decision::Allow
    );
    let allowed = policy(json!({"allow": ["EXAMPLE$"]}));
    assert_eq!(
        allowed.check_call(&call(json!({"k": "AKIAIOSFODNN7EXAMPLE"}))),
        Decision::Allow
    );
    assert!(matches!(
        allowed.check_call(&call(json!({"k": "ASIAY34FZKBOKMUTVV7A"}))),
        Decision::Deny(_)
    ));
    let custom =
        policy(json!({"patterns": [{"name": "acme-key", "regex": "acme_([a-z0-9]{16})"}]}));
    let why = reason(custom.check_call(&call(json!({"k": "key acme_0123456789abcdef"}))));
    assert!(
        why.contains("holds a match of the pattern `acme-key` (rule acme-key)"),
        "{why}"
    );
    // A capture group is the secret: the rest of the match stays.
    let masked = redacted(
        &custom,
        json!({"content": [{"type": "text", "text": "key acme_0123456789abcdef."}]}),
    );
    assert_eq!(
        masked.unwrap()["content"][0]["text"],
        "key acme_[REDACTED:acme-key]."
    );
}

// ---- check-result ----

#[test]
fn results_are_redacted_exactly() {
    let p = policy(json!({}));
    for (rule, secret) in samples() {
        let result = json!({
            "content": [{"type": "text", "text": format!("before {secret} after")}],
            "structuredContent": {"nested": [secret]},
            "isError": false
        });
        let masked = redacted(&p, result).unwrap_or_else(|| panic!("{rule}: nothing masked"));
        let tag = format!("[REDACTED:{rule}]");
        assert_eq!(
            masked["content"][0]["text"],
            format!("before {tag} after"),
            "{rule}"
        );
        assert_eq!(
            masked["structuredContent"]["nested"][0],
            tag.as_str(),
            "{rule}"
        );
        assert_eq!(masked["isError"], false);
        assert_hidden(&masked.to_string(), &secret);
    }
}

#[test]
fn redaction_keeps_everything_else_and_masks_keys_and_assignments() {
    let p = policy(json!({}));
    let secret = format!("ghp_{}", body(36));
    let masked = redacted(
        &p,
        json!({
            "content": [
                {"type": "text", "text": "DB_PASSWORD=Xk9#mP2$vL5qR8wT\nuser=admin"},
                {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}
            ],
            "structuredContent": {"password": "Xk9#mP2$vL5qR8wT", secret.clone(): 1, "plain": "ok"}
        }),
    )
    .unwrap();
    assert_eq!(
        masked,
        json!({
            "content": [
                {"type": "text", "text": "DB_PASSWORD=[REDACTED:secret-assignment]\nuser=admin"},
                {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}
            ],
            "structuredContent": {
                "password": "[REDACTED:secret-assignment]",
                "[REDACTED:github-token]": 1,
                "plain": "ok"
            }
        })
    );
}

#[test]
fn clean_results_are_allowed_and_modes_are_honoured() {
    let p = policy(json!({}));
    assert_eq!(
        redacted(
            &p,
            json!({"content": [{"type": "text", "text": "commit 3f786850e387550fdab836ed7e6dc881de23001b"}]})
        ),
        None
    );
    let secret_result = CallResult {
        call: call(json!({})),
        result: json!({"content": [{"type": "text", "text": "AKIAIOSFODNN7EXAMPLE"}]}).to_string(),
    };
    let block = policy(json!({"results": "block"}));
    match block.check_result(&secret_result) {
        ResultDecision::Deny(why) => {
            assert_eq!(
                why,
                "secrets: the result of acme.create_issue was withheld: result.content[0].text holds an AWS \
                 access key id (rule aws-access-key-id, AKIA…)"
            );
        }
        other => panic!("{other:?}"),
    }
    let off = policy(json!({"results": "off"}));
    assert_eq!(off.check_result(&secret_result), ResultDecision::Allow);
    // A result that is not JSON cannot be masked: a secret withholds it.
    let raw = CallResult {
        call: call(json!({})),
        result: "AKIAIOSFODNN7EXAMPLE".into(),
    };
    assert!(matches!(p.check_result(&raw), ResultDecision::Deny(_)));
}

// ---- check-run ----

#[test]
fn runs_are_allowed_unless_runs_is_block() {
    let code = format!("import os\nTOKEN = \"ghp_{}\"\nprint(1)\n", body(36));
    let run = RunRequest {
        code: code.clone(),
        purpose: RunPurpose::SaveTool("t".into()),
        ..RunRequest::default()
    };
    assert_eq!(policy(json!({})).check_run(&run), Decision::Allow);
    let why = reason(policy(json!({"runs": "block"})).check_run(&run));
    assert!(
        why.starts_with("secrets: the code holds a GitHub token on line 2 (rule github-token)"),
        "{why}"
    );
    assert_hidden(&why, &code[17..57]);
    let clean = RunRequest {
        code: "print('password is in the vault')".into(),
        ..RunRequest::default()
    };
    assert_eq!(
        policy(json!({"runs": "block"})).check_run(&clean),
        Decision::Allow
    );
}

// ---- configuration ----

#[test]
fn configuration_errors_are_clear() {
    assert_eq!(
        configure_error(json!({"mode": "block", "result": "redact", "servrs": []})),
        r#"unknown keys "result", "servrs" (expected one of: mode, results, runs, disable, patterns, servers, allow)"#
    );
    assert_eq!(
        configure_error(json!({"mode": "warn"})),
        r#"mode: expected block or ask or redact, got "warn""#
    );
    assert_eq!(
        configure_error(json!({"results": true})),
        "results: expected redact or block or off, got true"
    );
    assert!(configure_error(json!({"disable": ["aws"]})).starts_with(
        r#"disable: there is no built-in rule "aws" (the rules: private-key, aws-access-key-id"#
    ));
    assert_eq!(
        configure_error(json!({"patterns": [{"name": "acme", "regex": "acme_[a-z"}]}))
            .lines()
            .next(),
        Some("patterns[0].regex (acme): the regex does not compile: regex parse error:")
    );
    assert_eq!(
        configure_error(json!({"patterns": [{"name": "jwt", "regex": "x"}]})),
        r#"patterns[0]: the name "jwt" is taken (by a built-in rule or an earlier pattern)"#
    );
    assert_eq!(
        configure_error(json!({"patterns": [{"name": "Acme Key", "regex": "x"}]})),
        r#"patterns[0].name: "Acme Key" is not a rule name (lower-case letters, digits and dashes)"#
    );
    assert_eq!(
        configure_error(json!({"patterns": [{"name": "a", "regex": "x", "group": 1}]})),
        r#"patterns[0]: unknown key "group" (expected one of: name, regex)"#
    );
    assert_eq!(
        configure_error(json!({"patterns": [{"name": "a"}]})),
        "patterns[0] (a): `regex` is required"
    );
    assert!(
        configure_error(json!({"allow": ["("]}))
            .starts_with("allow[0]: the regex does not compile")
    );
    assert_eq!(
        configure_error(json!({"servers": "github"})),
        r#"servers: expected a list of strings, got "github""#
    );
    assert_eq!(
        configure_error(json!([])),
        "configuration must be a JSON object"
    );
}

#[test]
fn nothing_is_allowed_before_a_configuration_is_accepted() {
    let instance: Instance<Secrets> = Instance::new(Kind::Policy, NAME);
    assert!(matches!(
        instance.check_call(&call(json!({}))),
        Decision::Deny(_)
    ));
}

// ---- the helpers ----

#[test]
fn names_and_entropy() {
    for name in [
        "password",
        "DB_PASSWORD",
        "apiKey",
        "x-api-key",
        "client_secret",
        "Authorization",
        "authToken",
    ] {
        assert!(rules::secret_name(name), "{name}");
    }
    for name in [
        "author",
        "max_tokens",
        "next_page_token",
        "pageToken",
        "token_type",
        "tokenizer",
        "id",
    ] {
        assert!(!rules::secret_name(name), "{name}");
    }
    assert!(rules::entropy("aaaa") < 0.01);
    assert!((rules::entropy("abcd") - 2.0).abs() < 1e-9);
    assert!(rules::high_entropy("Xk9#mP2$vL5qR8wT"));
    assert!(!rules::high_entropy("authentication"));
    assert!(!rules::high_entropy("${DB_PASSWORD_VALUE}"));
    assert!(
        BUILTINS
            .iter()
            .all(|b| b.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
    );
}

#[test]
fn many_secrets_in_one_text_are_all_masked() {
    // Hostile output full of candidates: every one is masked, and overlap resolution stays fast.
    let p = policy(json!({}));
    let text = "pwd=Xk9#mP2$vL5qR8wT AKIAIOSFODNN7EXAMPLE\n".repeat(5000);
    let masked = redacted(&p, json!({"content": [{"type": "text", "text": text}]})).unwrap();
    let masked = masked["content"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(masked.matches("[REDACTED:secret-assignment]").count(), 5000);
    assert_eq!(masked.matches("[REDACTED:aws-access-key-id]").count(), 5000);
    assert!(!masked.contains("Xk9#") && !masked.contains("AKIA"));
}
