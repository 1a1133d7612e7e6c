//! Recovery tasks: the checklist of an incident (rotate a key, reset a password, review what
//! an actor read, undo containment), seeded from what was attacked and ticked off by people.
//!
//! The seeding rules live in `rampart-contain::recovery`; this module is the vocabulary.

use serde::{Deserialize, Serialize};

use crate::entity::Entity;
use crate::enums::wire_enum;
use crate::time::Timestamp;

wire_enum! {
    /// What a task asks for (and, for seeded tasks, which rule made it).
    TaskKind, "task kind" {
        /// Rotate an API key the attacker used.
        RotateKey = "rotate_key",
        /// Reset the credentials (password, sessions) of a principal.
        ResetPassword = "reset_password",
        /// Review what an actor read (the endpoints it got 2xx answers from).
        ReviewAccess = "review_access",
        /// Revert the containment actions, or let them expire, once recovered.
        RevertActions = "revert_actions",
        /// Added by a person.
        Custom = "custom",
    }
}

/// Longest task title, in characters.
pub const MAX_TASK_TITLE_CHARS: usize = 500;
/// Longest task detail, in characters.
pub const MAX_TASK_DETAIL_CHARS: usize = 10_000;

/// A task to store (the store assigns its id). Seeded tasks (every kind but `custom`) are
/// unique per incident by kind and entity: storing one again stores nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    /// What it asks for.
    pub kind: TaskKind,
    /// Short title (`rotate API key 0123...`).
    pub title: String,
    /// More: what to look at (for `review_access`, the endpoints and counts).
    #[serde(default)]
    pub detail: String,
    /// The entity it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Entity>,
}

impl NewTask {
    /// The key seeded tasks are unique by within an incident: `kind` and the entity
    /// (`rotate_key:api_key:0123...`); `None` for custom tasks, which may repeat.
    pub fn dedupe_key(&self) -> Option<String> {
        if self.kind == TaskKind::Custom {
            return None;
        }
        Some(match &self.entity {
            Some(e) => format!("{}:{}:{}", self.kind, e.kind, e.value),
            None => self.kind.to_string(),
        })
    }
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Store-assigned id.
    pub id: i64,
    /// The incident it belongs to.
    pub incident_id: i64,
    /// The task.
    #[serde(flatten)]
    pub task: NewTask,
    /// Whether it is done.
    pub done: bool,
    /// Who ticked it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<String>,
    /// When (wall clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Timestamp>,
    /// When it was created (wall clock).
    pub created_at: Timestamp,
    /// Who created it (the person who added it, or who asked for the checklist to be seeded).
    pub created_by: String,
}

/// What one actor got successful (2xx) answers from, summed from the stored events: the input
/// of the `review_access` tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorAccess {
    /// Request method.
    pub method: String,
    /// Request path (as stored, without the query).
    pub path: String,
    /// How many 2xx answers.
    pub requests: u64,
    /// The last one (event time).
    pub last: Timestamp,
}

/// When an actor (IP, principal or API key) was last seen in the stored events: the input of
/// the containment verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityActivity {
    /// Its last event of any kind (event time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// Its last event that was not denied (answered neither 403 nor 429, the answers a
    /// gateway gives a contained actor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_allowed: Option<Timestamp>,
}

/// Statuses that count as a denial (a gateway refusing a contained actor): activity with
/// these answers does not break the quiet period.
pub const DENIED_STATUSES: [u16; 2] = [403, 429];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{EntityKind, EntityRole};

    #[test]
    fn dedupe_keys_name_kind_and_entity_and_custom_tasks_have_none() {
        let t = |kind, entity: Option<Entity>| NewTask {
            kind,
            title: "t".into(),
            detail: String::new(),
            entity,
        };
        let key = Entity::new(EntityKind::ApiKey, "ab", EntityRole::Attacker);
        assert_eq!(
            t(TaskKind::RotateKey, Some(key.clone())).dedupe_key(),
            Some("rotate_key:api_key:ab".into())
        );
        assert_eq!(
            t(TaskKind::RevertActions, None).dedupe_key(),
            Some("revert_actions".into())
        );
        assert_eq!(t(TaskKind::Custom, Some(key)).dedupe_key(), None);
        let json = serde_json::to_value(Task {
            id: 1,
            incident_id: 2,
            task: t(TaskKind::Custom, None),
            done: false,
            done_by: None,
            done_at: None,
            created_at: Timestamp(0),
            created_by: "token:a".into(),
        })
        .unwrap();
        assert_eq!(json["kind"], "custom");
        assert_eq!(json["title"], "t");
        assert!(json.get("done_by").is_none());
    }
}
