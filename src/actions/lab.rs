//! Requests to the task that owns the local lab's processes. The lab has one
//! owner (the `lab` command); actions reach it through this handle and wait
//! for its answer, as a client of a connection-owning task would.

use tokio::sync::{mpsc, oneshot};

/// What the lab is asked to do, by member address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabCommand {
    Kill(String),
    Restart(String),
}

/// One request and where to send the answer (what was done, or why not).
#[derive(Debug)]
pub struct LabRequest {
    pub command: LabCommand,
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// A cheap, cloneable way to reach the lab's owner.
#[derive(Debug, Clone)]
pub struct LabHandle {
    requests: mpsc::Sender<LabRequest>,
}

impl LabHandle {
    /// A handle and the receiving end its owner serves.
    pub fn channel() -> (LabHandle, mpsc::Receiver<LabRequest>) {
        let (requests, rx) = mpsc::channel(8);
        (LabHandle { requests }, rx)
    }

    pub async fn request(&self, command: LabCommand) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(LabRequest { command, reply })
            .await
            .map_err(|_| "the lab is not running any more".to_string())?;
        answer
            .await
            .map_err(|_| "the lab stopped before answering".to_string())?
    }
}
