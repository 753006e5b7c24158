//! Queue lifecycle commands: create, delete, attributes, tags, purge.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::params;

use super::*;

impl Writer {
    pub(super) fn check_redrive(&self, source_name: &str, config: &QueueConfig) -> QueueResult<()> {
        let Some(policy) = &config.redrive_policy else {
            return Ok(());
        };
        let target = &policy.dead_letter_target_arn;
        let dlq = self
            .location
            .local_queue(target)
            .and_then(|name| self.catalog.by_name.get(name))
            .ok_or_else(|| {
                QueueError::invalid(format!(
                    "the RedrivePolicy's dead-letter target {target} does not exist; create that queue first"
                ))
            })?;
        if dlq.name == source_name {
            return Err(QueueError::invalid(
                "a queue cannot be its own dead-letter queue",
            ));
        }
        if dlq.config.fifo != config.fifo {
            return Err(QueueError::invalid(
                "a FIFO queue needs a FIFO dead-letter queue, and a standard queue a standard one",
            ));
        }
        if let Some(allow) = &dlq.config.redrive_allow_policy {
            let source_arn = self.location.arn(source_name);
            if !allow.allows(&source_arn) {
                return Err(QueueError::invalid(format!(
                    "the RedriveAllowPolicy of {} does not allow {source_arn} to use it as a dead-letter queue",
                    dlq.name
                )));
            }
        }
        Ok(())
    }

    pub(super) fn info(&self, meta: &QueueMeta) -> QueueInfo {
        QueueInfo {
            name: meta.name.clone(),
            arn: meta.arn.clone(),
        }
    }

    pub(super) fn create_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<QueueInfo>> {
        let checked = (|| {
            validate::queue_name(name)?;
            validate::tags(tags)?;
            if tags.len() > 50 {
                return Err(QueueError::invalid("a queue can have at most 50 tags"));
            }
            QueueConfig::for_new_queue(name, attributes)
        })();
        let config = refuse!(checked);
        if let Some(existing) = self.catalog.by_name.get(name) {
            return Ok(if existing.config.matches_requested(name, attributes) {
                Ok(self.info(existing))
            } else {
                Err(QueueError::QueueAlreadyExists {
                    name: name.to_string(),
                })
            });
        }
        refuse!(self.check_redrive(name, &config));
        self.conn.execute(
            "INSERT INTO queues (name, config, tags, created_at, modified_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![name, to_json(&config), to_json(tags), now],
        )?;
        let meta = QueueMeta {
            id: self.conn.last_insert_rowid(),
            name: name.to_string(),
            arn: self.location.arn(name),
            config,
            tags: tags.clone(),
            created_at: now,
            modified_at: now,
            last_purge_at: None,
            notify: Arc::default(),
        };
        let info = self.info(&meta);
        self.replace_meta(meta);
        Ok(Ok(info))
    }

    pub(super) fn delete_queue(&mut self, queue: &QueueMeta) -> rusqlite::Result<QueueResult<()>> {
        let meta = refuse!(self.current(queue));
        self.delete_all_messages(meta.id)?;
        self.conn
            .execute("DELETE FROM dedup WHERE queue_id = ?1", [meta.id])?;
        self.conn.execute(
            "DELETE FROM move_tasks WHERE source_queue_id = ?1",
            [meta.id],
        )?;
        self.conn
            .execute("DELETE FROM queues WHERE id = ?1", [meta.id])?;
        self.catalog.remove(meta.id);
        self.catalog_changed = true;
        self.forget_messages_of(meta.id);
        self.wake.push(meta.notify.clone());
        Ok(Ok(()))
    }

    pub(super) fn set_attributes(
        &mut self,
        queue: &QueueMeta,
        attributes: &BTreeMap<String, String>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = refuse!(self.current(queue));
        let mut config = meta.config.clone();
        refuse!(config
            .apply(attributes, false)
            .and_then(|_| self.check_redrive(&meta.name, &config)));
        self.conn.execute(
            "UPDATE queues SET config = ?1, modified_at = ?2 WHERE id = ?3",
            params![to_json(&config), now, meta.id],
        )?;
        let mut updated = (*meta).clone();
        updated.config = config;
        updated.modified_at = now;
        self.replace_meta(updated);
        // A shorter delay or visibility may have made messages receivable.
        self.wake.push(meta.notify.clone());
        Ok(Ok(()))
    }

    pub(super) fn tag(
        &mut self,
        queue: &QueueMeta,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = refuse!(self.current(queue));
        refuse!(validate::tags(&add));
        let mut tags = meta.tags.clone();
        tags.extend(add);
        for key in remove {
            tags.remove(key);
        }
        if tags.len() > 50 {
            return Ok(Err(QueueError::invalid(
                "a queue can have at most 50 tags; remove some first",
            )));
        }
        self.conn.execute(
            "UPDATE queues SET tags = ?1 WHERE id = ?2",
            params![to_json(&tags), meta.id],
        )?;
        let mut updated = (*meta).clone();
        updated.tags = tags;
        self.replace_meta(updated);
        Ok(Ok(()))
    }

    pub(super) fn purge(
        &mut self,
        queue: &QueueMeta,
        now: i64,
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = refuse!(self.current(queue));
        if meta
            .last_purge_at
            .is_some_and(|last| now - last < PURGE_SPACING_MS)
        {
            return Ok(Err(QueueError::PurgeQueueInProgress {
                name: meta.name.clone(),
            }));
        }
        self.delete_all_messages(meta.id)?;
        self.conn.execute(
            "UPDATE queues SET last_purge_at = ?1 WHERE id = ?2",
            params![now, meta.id],
        )?;
        self.forget_messages_of(meta.id);
        let mut updated = (*meta).clone();
        updated.last_purge_at = Some(now);
        self.replace_meta(updated);
        Ok(Ok(()))
    }
}
