//! One resource's watch, kept alive the way an operator would want: after
//! a failure the watcher is dropped and started again after a backoff, so
//! the next attempt re-lists and its `InitDone` proves the resource is back
//! (a re-established watch with no changes says nothing, and API servers
//! before 1.27 send no bookmark on an idle watch). A resource this user may
//! not read (403) is not retried every second: it is said once, and asked
//! again only after [`FORBIDDEN_RETRY`].

use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::watcher::{self, Event};

/// First wait after a failure; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a forbidden resource is left alone before it is asked again
/// (rights can be granted while the console runs).
pub const FORBIDDEN_RETRY: Duration = Duration::from_secs(300);

/// Why a watch stopped, in the words the header shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 403: this user may not read the resource.
    Forbidden(String),
    /// Anything else: the server is away, answers an error, or the stream broke.
    Failed(String),
}

/// What one resource's stream yields.
#[derive(Debug)]
pub enum Item<K> {
    Event(Event<K>),
    Failure(Failure),
}

/// The status of a failed request, when the server answered one.
fn status(error: &watcher::Error) -> Option<&kube::core::Status> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s),
        watcher::Error::WatchError(s) => Some(s),
        _ => None,
    }
}

/// One line for a watcher's error: the server's own message when it gave
/// one (it names the user and the resource on a 403), else the status code
/// and reason, else the chain of causes of a failed connection.
pub fn describe(error: &watcher::Error) -> String {
    if let Some(s) = status(error) {
        let message = s.message.trim();
        return match (message.is_empty(), s.reason.is_empty()) {
            (false, _) => one_line(message),
            (true, false) => format!("HTTP {} {}", s.code, s.reason),
            (true, true) => format!("HTTP {} (the server gave no reason)", s.code),
        };
    }
    let mut text = match error {
        watcher::Error::InitialListFailed(_) => "cannot list".to_string(),
        watcher::Error::WatchStartFailed(_) => "cannot start watching".to_string(),
        watcher::Error::WatchFailed(_) => "the watch broke".to_string(),
        other => other.to_string(),
    };
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        let part = e.to_string();
        // kube's wrappers repeat their source's text; say each cause once.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
    }
    one_line(&text)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn classify(error: &watcher::Error) -> Option<Failure> {
    match status(error).map(|s| s.code) {
        // The end of a watch's window: watching again re-lists, no failure.
        Some(410) => None,
        Some(403) => Some(Failure::Forbidden(describe(error))),
        _ => Some(Failure::Failed(describe(error))),
    }
}

struct State<K: 'static> {
    api: Api<K>,
    config: watcher::Config,
    stream: Option<BoxStream<'static, watcher::Result<Event<K>>>>,
    wait: Option<Duration>,
    backoff: Duration,
}

/// The watch of one resource: events, and failures each followed by a wait
/// and a fresh watcher. Never ends.
pub fn resource<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = Item<K>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let state = State {
        api,
        config,
        stream: None,
        wait: None,
        backoff: FIRST_BACKOFF,
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = next(&mut state).await;
        Some((item, state))
    })
}

async fn next<K>(state: &mut State<K>) -> Item<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    loop {
        if let Some(wait) = state.wait.take() {
            tokio::time::sleep(wait).await;
        }
        let stream = state.stream.get_or_insert_with(|| {
            watcher::watcher(state.api.clone(), state.config.clone()).boxed()
        });
        match stream.next().await {
            Some(Ok(event)) => {
                if matches!(event, Event::InitDone) {
                    state.backoff = FIRST_BACKOFF;
                }
                return Item::Event(event);
            }
            Some(Err(error)) => {
                state.stream = None;
                let Some(failure) = classify(&error) else {
                    continue;
                };
                state.wait = Some(match failure {
                    Failure::Forbidden(_) => FORBIDDEN_RETRY,
                    Failure::Failed(_) => state.backoff,
                });
                state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                return Item::Failure(failure);
            }
            None => {
                state.stream = None;
                state.wait = Some(state.backoff);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str, message: &str) -> watcher::Error {
        let status = kube::core::Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..kube::core::Status::default()
        };
        watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn a_forbidden_list_is_the_servers_one_line_message() {
        let e = api_error(
            403,
            "Forbidden",
            "nodes is forbidden: User \"viewer\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
        );
        let Some(Failure::Forbidden(text)) = classify(&e) else {
            panic!("403 is forbidden");
        };
        assert_eq!(
            text,
            "nodes is forbidden: User \"viewer\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
        );
        assert!(!text.contains("Status {"));
    }

    #[test]
    fn an_empty_reason_still_says_what_came_back() {
        let e = api_error(500, "", "");
        assert_eq!(describe(&e), "HTTP 500 (the server gave no reason)");
        let e = api_error(503, "ServiceUnavailable", "");
        assert_eq!(describe(&e), "HTTP 503 ServiceUnavailable");
        let e = api_error(500, "", "error dialing\n backend");
        assert_eq!(describe(&e), "error dialing backend");
    }

    #[test]
    fn gone_is_not_a_failure() {
        let status = kube::core::Status {
            code: 410,
            ..kube::core::Status::default()
        };
        assert_eq!(
            classify(&watcher::Error::WatchError(Box::new(status))),
            None
        );
    }
}
