//! The describe/logs view's task, as the app loop holds it: at most one
//! runs, and it is aborted when its view closes or is replaced, so a
//! followed log stops with its view and sends nothing after.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::sources::inspect::{self, Feed, LogOptions, LogTarget, Reach, Subject};

/// The view task and its channel.
pub struct Views {
    pub feeds: mpsc::Receiver<Feed>,
    sender: mpsc::Sender<Feed>,
    task: Option<JoinHandle<()>>,
    /// Bound on each request a view makes.
    pub timeout: Duration,
}

impl Views {
    pub fn new(timeout: Duration) -> Views {
        // Small: a chatty log waits for the loop instead of queueing.
        let (sender, feeds) = mpsc::channel(16);
        Views {
            feeds,
            sender,
            task: None,
            timeout,
        }
    }

    /// Starts a describe for view `view`, stopping any task before it.
    pub fn describe(&mut self, view: u64, subject: Subject, reach: Reach) {
        self.stop();
        let task = inspect::spawn_describe(view, subject, reach, self.sender.clone());
        self.task = Some(task);
    }

    /// Starts following logs for view `view`, stopping any task before it.
    pub fn logs(&mut self, view: u64, target: LogTarget, options: LogOptions, reach: Reach) {
        self.stop();
        let task = inspect::spawn_logs(view, target, options, reach, self.sender.clone());
        self.task = Some(task);
    }

    /// Stops the running task, if any.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Views {
    fn drop(&mut self) {
        self.stop();
    }
}
