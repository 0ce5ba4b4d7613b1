//! What can go wrong with a Kubernetes action, always naming the object:
//! the kind, `namespace/name`, the HTTP status and the API's own `Status`
//! message. Variants are the cases a caller branches on (a heal treats
//! [`KubeActionError::NotFound`] as done; an isolation that exists already
//! is [`KubeActionError::AlreadyIsolated`]); everything else from the API
//! is [`KubeActionError::Api`].
//!
//! No variant carries a request or a header, so no token can leak through
//! an error; the messages are the server's and the transport's.

use std::fmt;
use std::time::Duration;

/// The object an action was about: `StatefulSet ag/copy`, `Node node-1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The Kubernetes kind (`StatefulSet`, `Pod`, `Node`, `NetworkPolicy`).
    pub kind: &'static str,
    /// None for cluster-scoped objects, and for lists across every namespace.
    pub namespace: Option<String>,
    /// Empty for a list.
    pub name: String,
}

impl ObjectRef {
    pub fn namespaced(kind: &'static str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    pub fn cluster_scoped(kind: &'static str, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: None,
            name: name.to_string(),
        }
    }

    /// A list of `kind` in one namespace, or in all when None.
    pub fn list(kind: &'static str, namespace: Option<&str>) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: namespace.map(str::to_string),
            name: String::new(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.namespace, self.name.is_empty()) {
            (Some(ns), false) => write!(f, "{} {ns}/{}", self.kind, self.name),
            (None, false) => write!(f, "{} {}", self.kind, self.name),
            (Some(ns), true) => write!(f, "{} list in namespace {ns}", self.kind),
            (None, true) => write!(f, "{} list in every namespace", self.kind),
        }
    }
}

/// Why a Kubernetes action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeActionError {
    #[error("{object} not found (HTTP 404: {message})")]
    NotFound { object: ObjectRef, message: String },

    /// The console's policy for this pod exists already (HTTP 409 on create).
    #[error(
        "{object} is already isolated by NetworkPolicy {policy}; heal that first (HTTP 409: {message})"
    )]
    AlreadyIsolated {
        object: ObjectRef,
        policy: String,
        message: String,
    },

    /// The server refused the request's content (HTTP 422), e.g. negative replicas.
    #[error("{object}: the API server rejected the request as invalid (HTTP 422: {message})")]
    Invalid { object: ObjectRef, message: String },

    /// Any other answer that is not a success.
    #[error("{object}: the API server answered HTTP {code} {reason}: {message}")]
    Api {
        object: ObjectRef,
        code: u16,
        reason: String,
        message: String,
    },

    /// The whole operation took longer than the action's bound.
    #[error("{object}: no answer from the API server within {}", humantime::format_duration(*.timeout))]
    Timeout {
        object: ObjectRef,
        timeout: Duration,
    },

    /// No HTTP answer at all: connection refused, TLS, a body that is not JSON.
    #[error("{object}: cannot talk to the API server: {message}")]
    Transport { object: ObjectRef, message: String },

    /// A command run in the pod exited with a non-zero code.
    #[error("{object}: the command exited with code {exit_code}: {stderr}")]
    CommandFailed {
        object: ObjectRef,
        exit_code: i32,
        /// The end of what it wrote to stderr.
        stderr: String,
    },

    /// The console would not send the request (it would do something else
    /// than asked, e.g. isolate more than the one pod).
    #[error("{object}: not done: {reason}")]
    Refused { object: ObjectRef, reason: String },

    /// The server answered success but without a field the action needs.
    #[error("{object}: the API server's answer has no {field}")]
    Malformed {
        object: ObjectRef,
        field: &'static str,
    },
}

impl KubeActionError {
    /// Maps a kube error about `object` to the variant callers branch on.
    pub fn from_kube(object: ObjectRef, error: kube::Error) -> KubeActionError {
        match error {
            kube::Error::Api(status) => {
                let message = status.message.clone();
                match status.code {
                    404 => KubeActionError::NotFound { object, message },
                    422 => KubeActionError::Invalid { object, message },
                    code => KubeActionError::Api {
                        object,
                        code,
                        reason: status.reason.clone(),
                        message,
                    },
                }
            }
            other => KubeActionError::Transport {
                object,
                message: other.to_string(),
            },
        }
    }

    /// The object the failed request was about.
    pub fn object(&self) -> &ObjectRef {
        match self {
            KubeActionError::NotFound { object, .. }
            | KubeActionError::AlreadyIsolated { object, .. }
            | KubeActionError::Invalid { object, .. }
            | KubeActionError::Api { object, .. }
            | KubeActionError::Timeout { object, .. }
            | KubeActionError::Transport { object, .. }
            | KubeActionError::CommandFailed { object, .. }
            | KubeActionError::Refused { object, .. }
            | KubeActionError::Malformed { object, .. } => object,
        }
    }

    /// The HTTP status the server answered, when it answered one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            KubeActionError::NotFound { .. } => Some(404),
            KubeActionError::AlreadyIsolated { .. } => Some(409),
            KubeActionError::Invalid { .. } => Some(422),
            KubeActionError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut status = Status::failure(message, reason);
        status.code = code;
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn objects_name_their_kind_and_place() {
        let sts = ObjectRef::namespaced("StatefulSet", "ag", "copy");
        assert_eq!(sts.to_string(), "StatefulSet ag/copy");
        assert_eq!(
            ObjectRef::cluster_scoped("Node", "node-1").to_string(),
            "Node node-1"
        );
        assert_eq!(
            ObjectRef::list("NetworkPolicy", None).to_string(),
            "NetworkPolicy list in every namespace"
        );
    }

    #[test]
    fn api_answers_become_the_variants_callers_branch_on() {
        let sts = || ObjectRef::namespaced("StatefulSet", "ag", "copy");
        let e = KubeActionError::from_kube(sts(), api_error(404, "NotFound", "gone"));
        assert_eq!(e.http_status(), Some(404));
        assert_eq!(
            e.to_string(),
            "StatefulSet ag/copy not found (HTTP 404: gone)"
        );
        let e = KubeActionError::from_kube(sts(), api_error(422, "Invalid", "bad replicas"));
        assert!(matches!(e, KubeActionError::Invalid { .. }));
        let e = KubeActionError::from_kube(sts(), api_error(500, "InternalError", "boom"));
        assert_eq!(
            e.to_string(),
            "StatefulSet ag/copy: the API server answered HTTP 500 InternalError: boom"
        );
        let e = KubeActionError::Timeout {
            object: sts(),
            timeout: Duration::from_secs(2),
        };
        assert_eq!(
            e.to_string(),
            "StatefulSet ag/copy: no answer from the API server within 2s"
        );
    }
}
