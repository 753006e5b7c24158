//! The queues and their settings, kept in memory. The writer thread owns the authoritative copy
//! and publishes a fresh snapshot after each commit that changed it; callers read snapshots
//! without touching SQLite.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::attributes::QueueConfig;
use crate::error::QueueError;

#[derive(Debug, Clone)]
pub struct QueueMeta {
    pub id: i64,
    pub name: String,
    pub arn: String,
    pub config: QueueConfig,
    pub tags: BTreeMap<String, String>,
    pub created_at: i64,
    pub modified_at: i64,
    pub last_purge_at: Option<i64>,
    /// Woken when messages may have become receivable, so long polls return at once.
    pub notify: Arc<Notify>,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub by_name: BTreeMap<String, Arc<QueueMeta>>,
    pub by_id: HashMap<i64, Arc<QueueMeta>>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Result<Arc<QueueMeta>, QueueError> {
        self.by_name
            .get(name)
            .cloned()
            .ok_or_else(|| QueueError::QueueDoesNotExist {
                name: name.to_string(),
            })
    }

    pub fn by_arn(&self, arn: &str) -> Option<Arc<QueueMeta>> {
        let name = crate::arn::queue_name(arn)?;
        self.by_name.get(name).filter(|m| m.arn == arn).cloned()
    }

    pub fn insert(&mut self, meta: QueueMeta) {
        let meta = Arc::new(meta);
        self.by_id.insert(meta.id, meta.clone());
        self.by_name.insert(meta.name.clone(), meta);
    }

    pub fn remove(&mut self, id: i64) -> Option<Arc<QueueMeta>> {
        let meta = self.by_id.remove(&id)?;
        self.by_name.remove(&meta.name);
        Some(meta)
    }

    /// Queues whose redrive policy targets `arn`, by name.
    pub fn dead_letter_sources(&self, arn: &str) -> Vec<Arc<QueueMeta>> {
        self.by_name
            .values()
            .filter(|m| {
                m.config
                    .redrive_policy
                    .as_ref()
                    .is_some_and(|p| p.dead_letter_target_arn == arn)
            })
            .cloned()
            .collect()
    }
}
