//! The way reports travel from the sources to the app loop: a mailbox that
//! holds at most one report per source, the newest.
//!
//! A report is a source's whole view and replaces the one before it, so a
//! report the loop has not taken yet is worth nothing once a newer one from
//! the same source arrives. A queue of them (the `mpsc` channel this
//! replaces held 64) costs up to 64 whole fleets of memory while the loop is
//! busy (gigabytes at 100,000 members) and makes the loop work through stale
//! views before it reaches the present. Here a send replaces the source's
//! pending report in place (keeping its turn), so memory is bounded by one
//! report per source and the loop always takes the newest. Nothing is lost
//! while the loop keeps up; when it falls behind, intermediate views of one
//! source are skipped, exactly what a view of the present should do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::model::SourceReport;

#[derive(Debug, Default)]
struct Inner {
    /// At most one report per source, in the order their sources first
    /// sent them since the loop last looked.
    pending: VecDeque<SourceReport>,
    /// Live [`Outbox`]es; none left and nothing pending ends [`Mailbox::recv`].
    senders: usize,
    /// The [`Mailbox`] is gone: sends fail, and sources stop.
    closed: bool,
    /// Reports replaced before the loop took them, for the logs.
    replaced: u64,
}

#[derive(Debug, Default)]
struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the receiver; a notification sent while it is not waiting is
    /// kept (one permit), so a send between its check and its wait is not lost.
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; a poisoned one still holds
        // consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sources' end: cloned into every source's context.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The app loop's end.
#[derive(Debug)]
pub struct Mailbox {
    shared: Arc<Shared>,
}

/// A mailbox and the first outbox into it.
pub fn mailbox() -> (Outbox, Mailbox) {
    let shared = Arc::new(Shared::default());
    shared.lock().senders = 1;
    (
        Outbox {
            shared: Arc::clone(&shared),
        },
        Mailbox { shared },
    )
}

impl Outbox {
    /// Leaves a report for the loop, replacing this source's report the
    /// loop has not taken yet; false when the loop is gone (the source
    /// should stop). Never waits.
    pub fn send(&self, report: SourceReport) -> bool {
        let mut inner = self.shared.lock();
        if inner.closed {
            return false;
        }
        match inner.pending.iter_mut().find(|r| r.source == report.source) {
            Some(slot) => {
                *slot = report;
                inner.replaced += 1;
            }
            None => inner.pending.push_back(report),
        }
        drop(inner);
        self.shared.wake.notify_one();
        true
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Outbox {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.shared.lock().senders -= 1;
        self.shared.wake.notify_one();
    }
}

impl Mailbox {
    /// The oldest pending report; None once every outbox is gone and
    /// nothing is pending.
    pub async fn recv(&mut self) -> Option<SourceReport> {
        loop {
            {
                let mut inner = self.shared.lock();
                if let Some(report) = inner.pending.pop_front() {
                    return Some(report);
                }
                if inner.senders == 0 {
                    return None;
                }
            }
            self.shared.wake.notified().await;
        }
    }

    /// A pending report, if there is one, without waiting.
    pub fn try_recv(&mut self) -> Option<SourceReport> {
        self.shared.lock().pending.pop_front()
    }

    /// How many reports were replaced before the loop took them.
    pub fn replaced(&self) -> u64 {
        self.shared.lock().replaced
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.closed = true;
        inner.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SourceKind, SourceStatus};

    fn report(source: &str, members: usize) -> SourceReport {
        SourceReport {
            source: source.into(),
            kind: SourceKind::Sim,
            target: "t".into(),
            status: SourceStatus::Ok,
            at: time::OffsetDateTime::UNIX_EPOCH,
            clusters: Vec::new(),
            members: vec![Default::default(); members],
            notes: Vec::new(),
        }
    }

    #[tokio::test]
    async fn keeps_only_the_newest_report_of_each_source_in_first_sent_order() {
        let (outbox, mut mailbox) = mailbox();
        assert!(outbox.send(report("a", 1)));
        assert!(outbox.send(report("b", 1)));
        assert!(outbox.send(report("a", 2)));
        assert!(outbox.send(report("a", 3)));
        let first = mailbox.recv().await.expect("a report");
        assert_eq!((first.source.as_str(), first.members.len()), ("a", 3));
        let second = mailbox.try_recv().expect("b's report");
        assert_eq!(second.source, "b");
        assert!(mailbox.try_recv().is_none());
        assert_eq!(mailbox.replaced(), 2);
    }

    #[tokio::test]
    async fn a_send_wakes_a_waiting_receiver() {
        let (outbox, mut mailbox) = mailbox();
        let waiting = tokio::spawn(async move { mailbox.recv().await.map(|r| r.source) });
        tokio::task::yield_now().await;
        assert!(outbox.send(report("late", 0)));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(got.as_deref(), Some("late"));
    }

    #[tokio::test]
    async fn ends_when_every_outbox_is_gone_and_refuses_sends_when_the_mailbox_is() {
        let (outbox, mut mailbox) = mailbox();
        let second = outbox.clone();
        assert!(second.send(report("x", 0)));
        drop(outbox);
        drop(second);
        assert_eq!(mailbox.recv().await.map(|r| r.source).as_deref(), Some("x"));
        assert!(mailbox.recv().await.is_none());

        let (outbox, mailbox) = super::mailbox();
        drop(mailbox);
        assert!(!outbox.send(report("y", 0)));
    }
}
