//! `d`: a member's whole object as YAML, fetched once. A Docker container's
//! inspect, a Swarm task's inspect (and its container's, when it runs on
//! this engine), a pod as the API server has it (without
//! `metadata.managedFields`, as `kubectl get -o yaml` leaves them out), or
//! the facts the sources already hold. The text is bounded by
//! [`DESCRIBE_LIMIT`]; escaping is the view's, when it is drawn.

use bollard::query_parameters::InspectContainerOptions;
use futures::AsyncReadExt;
use serde_json::Value;

use super::{Reach, Subject};
use crate::sources::docker::client::timed;

/// The most text a describe shows.
pub const DESCRIBE_LIMIT: usize = 4 * 1024 * 1024;

/// A describe's text, and whether it was cut at [`DESCRIBE_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub text: String,
    pub truncated: bool,
}

impl Described {
    /// `text`, cut at the limit (on a character boundary) when longer.
    pub fn bounded(mut text: String) -> Described {
        if text.len() <= DESCRIBE_LIMIT {
            return Described {
                text,
                truncated: false,
            };
        }
        let mut end = DESCRIBE_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        Described {
            text,
            truncated: true,
        }
    }
}

/// Fetches `subject`'s object; the error is what the view shows.
pub async fn describe(subject: &Subject, reach: &Reach) -> Result<Described, String> {
    let text = match subject {
        Subject::Container { id, .. } => docker_container(reach, id).await?,
        Subject::SwarmTask {
            task, container, ..
        } => swarm_task(reach, task, container.as_deref()).await?,
        Subject::Pod { namespace, pod } => return pod_yaml(reach, namespace, pod).await,
        Subject::Facts { yaml, .. } => yaml.clone(),
    };
    Ok(Described::bounded(text))
}

fn to_yaml(value: &impl serde::Serialize) -> Result<String, String> {
    serde_yaml::to_string(value).map_err(|e| format!("cannot write it as YAML: {e}"))
}

async fn docker_container(reach: &Reach, id: &str) -> Result<String, String> {
    let docker = reach.docker().await?;
    let what = format!("inspect container {id}");
    let inspect = timed(
        reach.timeout,
        &what,
        docker.inspect_container(id, None::<InspectContainerOptions>),
    )
    .await?;
    to_yaml(&inspect)
}

/// The task's inspect, then its container's when it is on this engine.
async fn swarm_task(reach: &Reach, task: &str, container: Option<&str>) -> Result<String, String> {
    let docker = reach.docker().await?;
    let what = format!("inspect task {task}");
    let inspect = timed(reach.timeout, &what, docker.inspect_task(task)).await?;
    let mut text = format!("# task {task}\n{}", to_yaml(&inspect)?);
    if let Some(id) = container {
        let container = docker_container(reach, id)
            .await
            .unwrap_or_else(|e| format!("# {e}\n"));
        text.push_str(&format!("---\n# its container {id}\n{container}"));
    }
    Ok(text)
}

/// GET the pod; its reply read up to the limit. A reply over the limit
/// cannot be parsed, so it is shown as it came, cut.
async fn pod_yaml(reach: &Reach, namespace: &str, pod: &str) -> Result<Described, String> {
    let client = reach.kube().await?;
    let what = format!("get pod {namespace}/{pod}");
    let request = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
        .get(pod, &kube::api::GetParams::default())
        .map_err(|e| format!("{what}: {e}"))?;
    let read = async {
        let reply = client
            .request_stream(request)
            .await
            .map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        reply
            .take(DESCRIBE_LIMIT as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(bytes)
    };
    let bytes = tokio::time::timeout(reach.timeout, read)
        .await
        .map_err(|_| format!("{what}: no answer within {:?}", reach.timeout))?
        .map_err(|e| format!("{what}: {e}"))?;
    if bytes.len() > DESCRIBE_LIMIT {
        return Ok(Described::bounded(
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    let mut object: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{what}: not JSON: {e}"))?;
    drop_managed_fields(&mut object);
    Ok(Described::bounded(to_yaml(&object)?))
}

/// What `kubectl get -o yaml` leaves out by default.
pub fn drop_managed_fields(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(DESCRIBE_LIMIT);
        let cut = Described::bounded(text);
        assert!(cut.truncated);
        assert!(cut.text.len() <= DESCRIBE_LIMIT && cut.text.len() >= DESCRIBE_LIMIT - 1);
        assert!(!Described::bounded("a: 1\n".into()).truncated);
    }

    #[test]
    fn managed_fields_are_dropped_and_the_rest_kept() {
        let mut pod = serde_json::json!({
            "metadata": {"name": "p", "managedFields": [{"manager": "kubectl"}]},
            "spec": {}
        });
        drop_managed_fields(&mut pod);
        assert_eq!(pod["metadata"], serde_json::json!({"name": "p"}));
    }
}
