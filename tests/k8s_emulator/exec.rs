//! The pod `exec` subresource: a WebSocket upgrade speaking
//! `v4.channel.k8s.io`, enough for kube's `AttachedProcess`. Each binary
//! message starts with its channel (1 stdout, 2 stderr, 3 the final
//! `Status`); then the server closes. Nothing really runs: `echo` prints
//! its arguments, a program a test scripted with [`super::Emulator::script_exec`]
//! answers what was scripted, and any other is "executable file not
//! found", as a container without it would answer. Every exec is recorded.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::http::error;
use super::store::{ApiError, Kind, Verb};

/// The only subprotocol served; kube offers v5 and v4.
const PROTOCOL: &str = "v4.channel.k8s.io";

/// What a scripted program answers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecScript {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// An exec the server accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRequest {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
    pub command: Vec<String>,
}

/// What the connection sends once upgraded.
pub struct ExecRun {
    stdout: String,
    stderr: String,
    status: Value,
}

pub async fn exec(
    State(shared): State<Arc<Shared>>,
    Path((namespace, pod)): Path<(String, String)>,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let request = ExecRequest {
        namespace,
        pod,
        container: query
            .iter()
            .find(|(k, _)| k == "container")
            .map(|(_, v)| v.clone()),
        command: query
            .iter()
            .filter(|(k, _)| k == "command")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let run = shared.edit(|s| {
        s.count(Verb::Exec, Kind::Pod);
        match s.take_failure(Verb::Exec, Kind::Pod) {
            Some(failure) => Err(failure),
            None => s.exec(request),
        }
    });
    let (run, upgrade) = match (run, upgrade) {
        (Err(e), _) => return error(&e),
        (Ok(_), Err(_)) => {
            return error(&ApiError::new(
                400,
                "BadRequest",
                "Upgrade request required",
            ));
        }
        (Ok(run), Ok(upgrade)) => (run, upgrade),
    };
    upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| answer(socket, run))
}

/// The exec's outcome from a script (or the built-in `echo`).
pub fn run(command: &[String], script: Option<&ExecScript>) -> ExecRun {
    let program = command.first().map(String::as_str).unwrap_or_default();
    let script = match (program, script) {
        (_, Some(script)) => script.clone(),
        ("echo", None) => ExecScript {
            stdout: format!("{}\n", command[1..].join(" ")),
            ..ExecScript::default()
        },
        (_, None) => {
            return ExecRun {
                stdout: String::new(),
                stderr: String::new(),
                status: failure(
                    500,
                    "InternalError",
                    &format!("exec: \"{program}\": executable file not found in $PATH"),
                    None,
                ),
            };
        }
    };
    let status = match script.exit_code {
        0 => json!({"metadata": {}, "status": "Success"}),
        code => failure(
            0,
            "NonZeroExitCode",
            &format!("command terminated with non-zero exit code: exit status {code}"),
            Some(json!({"causes": [{"reason": "ExitCode", "message": code.to_string()}]})),
        ),
    };
    ExecRun {
        stdout: script.stdout,
        stderr: script.stderr,
        status,
    }
}

fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut status =
        json!({"metadata": {}, "status": "Failure", "reason": reason, "message": message});
    if code != 0 {
        status["code"] = json!(code);
    }
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(Bytes::from(bytes))
}

async fn answer(mut socket: WebSocket, run: ExecRun) {
    let status = serde_json::to_vec(&run.status).expect("JSON");
    let frames = [
        (1, run.stdout.as_bytes()),
        (2, run.stderr.as_bytes()),
        (3, status.as_slice()),
    ];
    for (channel, data) in frames {
        if !data.is_empty() && socket.send(frame(channel, data)).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
