//! The exporter's queue as the worker sees it: the in-memory queue of
//! batches ([`Queue`]) or the persistent one on disk ([`PersistentQueue`]).

use super::persistent::PersistentQueue;
use super::queue::{Item, Queue};
use std::sync::Arc;

/// Where the worker takes batches from.
#[derive(Clone)]
pub(crate) enum SendingQueue {
    /// Bounded in memory, counted in batches.
    Memory(Arc<Queue>),
    /// On disk, bounded in bytes, delivered at least once across restarts.
    Persistent(Arc<PersistentQueue>),
}

impl SendingQueue {
    /// The oldest batch, waiting while there is none; `None` once closed
    /// and drained. Cancel safe.
    pub(crate) async fn pop(&self) -> Option<Item> {
        match self {
            SendingQueue::Memory(q) => q.pop().await,
            SendingQueue::Persistent(q) => q.pop().await,
        }
    }

    /// True when no batch waits.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            SendingQueue::Memory(q) => q.is_empty(),
            SendingQueue::Persistent(q) => q.is_empty(),
        }
    }

    /// No more pushes will come.
    pub(crate) fn close(&self) {
        match self {
            SendingQueue::Memory(q) => q.close(),
            SendingQueue::Persistent(q) => q.close(),
        }
    }

    /// True when batches outlive the process, so what the worker cannot
    /// deliver before it stops is kept rather than lost.
    pub(crate) fn is_persistent(&self) -> bool {
        matches!(self, SendingQueue::Persistent(_))
    }

    /// The worker ended: releases waiting producers and returns what a
    /// memory queue still held (a persistent queue keeps its batches).
    pub(crate) fn worker_gone(&self) -> Vec<Item> {
        match self {
            SendingQueue::Memory(q) => q.worker_gone(),
            SendingQueue::Persistent(q) => {
                q.worker_gone();
                Vec::new()
            }
        }
    }
}
