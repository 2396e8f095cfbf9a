//! Long runs as tasks (the `io.modelcontextprotocol/tasks` extension): rmcp's client, declaring the extension
//! in the 2026-07-28 lifecycle, against a real `bridge serve` child over stdio. A quick call still answers at
//! once; a long one becomes a task that is polled to its result with progress in its status, cancelled (its
//! container gone), or asks a policy's question through `tasks/get` and `tasks/update`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::clients::{TaskClient, stateless};
use common::project::Project;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, GetTaskParams, InputResponses,
    TaskPayload, TaskStatus, UpdateTaskParams,
};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientServiceExt, RoleClient};
use serde_json::{Value, json};

async fn connect(project: &Project, elicit: bool) -> (RunningService<RoleClient, TaskClient>, u32) {
    let mut command = common::serve_command();
    command
        .current_dir(project.path("."))
        .envs(project.vars())
        .env("MCP_BRIDGE_POOL_SIZE", "0");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().expect("bridge pid");
    let client = TaskClient { elicit }
        .serve_with_lifecycle(transport, stateless())
        .await
        .expect("discover");
    (client, pid)
}

async fn call_once(
    client: &RunningService<RoleClient, TaskClient>,
    arguments: Value,
) -> CallToolResponse {
    let params = CallToolRequestParams::new("run_python").with_arguments(common::args(arguments));
    client.call_tool_once(params).await.expect("tools/call")
}

/// Polls until the task leaves `working`; every status message seen on the way.
async fn poll(
    client: &RunningService<RoleClient, TaskClient>,
    task_id: &str,
) -> (TaskPayload, Vec<String>) {
    let mut messages = Vec::new();
    for _ in 0..600 {
        let got = client
            .get_task(GetTaskParams::new(task_id))
            .await
            .expect("tasks/get");
        if let Some(message) = &got.task.task.status_message {
            messages.push(message.clone());
        }
        if got.task.task.status != TaskStatus::Working {
            return (got.task.payload, messages);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the task was still working after 2 minutes: {messages:?}");
}

fn task_id(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Task(created) => created.task.task_id,
        other => panic!("expected a task, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_quick_call_answers_at_once_and_a_long_one_becomes_a_task_polled_to_its_result() {
    common::engine().await;
    let project = Project::stub();
    let (client, _) = connect(&project, false).await;
    let tools = client.peer_info().expect("discovered");
    assert!(
        tools.capabilities.supports_tasks(),
        "the bridge declares tasks"
    );

    match call_once(&client, json!({"code": "print(6 * 7)"})).await {
        CallToolResponse::Complete(result) => {
            assert_eq!(result.structured_content.unwrap()["stdout"], json!(["42"]));
        }
        other => panic!("a quick call is answered at once: {other:?}"),
    }

    // Longer than MCP_BRIDGE_MAX_TIMEOUT (120 s) is allowed for a task; it prints, then takes its time.
    let code = "import time\nfor i in range(3):\n    print('line', i, flush=True)\ntime.sleep(3)\nprint('done')";
    let id = task_id(call_once(&client, json!({"code": code, "timeout": 600})).await);
    let (payload, messages) = poll(&client, &id).await;
    let TaskPayload::Completed { result } = payload else {
        panic!("completed: {payload:?}")
    };
    let structured = &result["structuredContent"];
    assert_eq!(structured["status"], "success", "{result:#?}");
    assert_eq!(
        structured["stdout"],
        json!(["line 0", "line 1", "line 2", "done"])
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("running for") && m.contains("3 lines of output so far")),
        "progress in the status: {messages:?}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_cancelled_task_ends_its_run_and_its_container() {
    let docker = common::engine().await;
    let project = Project::stub();
    let (client, pid) = connect(&project, false).await;
    let id = task_id(
        call_once(
            &client,
            json!({"code": "import time; time.sleep(60)", "timeout": 90}),
        )
        .await,
    );
    common::eventually("the task's container runs", || {
        let docker = docker.clone();
        async move { !common::containers_of_process(&docker, pid).await.is_empty() }
    })
    .await;
    client
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .expect("tasks/cancel");
    let (payload, _) = poll(&client, &id).await;
    assert!(matches!(payload, TaskPayload::Cancelled), "{payload:?}");
    common::eventually("the container is gone", || {
        let docker = docker.clone();
        async move { common::containers_of_process(&docker, pid).await.is_empty() }
    })
    .await;
    // Another id is unknown, not someone else's.
    let unknown = client.get_task(GetTaskParams::new("no-such-task")).await;
    assert!(unknown.is_err());
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_policy_ask_in_a_task_is_answered_through_tasks_update() {
    common::engine().await;
    let project = Project::stub().with_config(common::ASK_ON_ECHO);
    for (approve, expected) in [
        (true, "hi"),
        (
            false,
            "denied: policy 'rules' asked (echo needs a human) and the user declined",
        ),
    ] {
        let (client, _) = connect(&project, true).await;
        let code = "try:\n    print((await mcp_stub.echo(text='hi')).text)\nexcept runtime.PolicyDenied as exc:\n    print('denied:', exc)";
        let id = task_id(call_once(&client, json!({"code": code, "servers": ["stub"]})).await);
        let (payload, _) = poll(&client, &id).await;
        let TaskPayload::InputRequired { input_requests } = payload else {
            panic!("the question: {payload:?}")
        };
        let (key, request) = input_requests.into_iter().next().expect("one question");
        let asked = serde_json::to_string(&request).unwrap();
        assert!(asked.contains("wants to call stub.echo"), "{asked}");
        let answer = json!({"action": "accept", "content": {"approve": approve}});
        let answers: InputResponses = [(key, answer)].into_iter().collect();
        client
            .update_task(UpdateTaskParams::new(id.clone(), answers))
            .await
            .expect("tasks/update");
        let (payload, _) = poll(&client, &id).await;
        let TaskPayload::Completed { result } = payload else {
            panic!("completed: {payload:?}")
        };
        assert_eq!(
            result["structuredContent"]["stdout"],
            json!([expected]),
            "approve={approve}"
        );
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_question_in_a_task_nobody_answers_is_withdrawn_and_the_run_goes_on_denied() {
    common::engine().await;
    let project = Project::stub()
        .with_config(common::ASK_ON_ECHO)
        .var("MCP_BRIDGE_APPROVAL_TIMEOUT", "2");
    let (client, _) = connect(&project, true).await;
    let code = format!(
        "{}\nimport time; time.sleep(3)\nprint('after')",
        common::clients::TRY_ECHO
    );
    let id = task_id(call_once(&client, json!({"code": code, "servers": ["stub"]})).await);
    let (payload, _) = poll(&client, &id).await;
    assert!(
        matches!(payload, TaskPayload::InputRequired { .. }),
        "the question: {payload:?}"
    );
    // Unanswered, the question goes away after the approval timeout while the run goes on.
    let mut withdrawn = false;
    for _ in 0..40 {
        let got = client
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .unwrap();
        if got.task.task.status == TaskStatus::Working {
            withdrawn = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(withdrawn, "the unanswered question is no longer shown");
    let (payload, _) = poll(&client, &id).await;
    let TaskPayload::Completed { result } = payload else {
        panic!("completed: {payload:?}")
    };
    let expected = "denied: policy 'rules' asks: echo needs a human; but nobody answered within 2 s \
                    (MCP_BRIDGE_APPROVAL_TIMEOUT), so the call is denied";
    assert_eq!(
        result["structuredContent"]["stdout"],
        json!([expected, "after"])
    );
    client.cancel().await.unwrap();
}
