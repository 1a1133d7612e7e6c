//! Rampart's domain model, shared by every other crate.
//!
//! Pure data: no I/O, no clock reads except [`Timestamp::now`] for stamping records people
//! change. Wire names (serde) here are the REST API's and the store's.

pub mod action;
pub mod alert;
pub mod audit;
pub mod automation;
pub mod delivery;
pub mod entity;
pub mod enums;
pub mod event;
pub mod incident;
pub mod inventory;
pub mod limits;
pub mod playbook_run;
pub mod roles;
pub mod task;
pub mod time;
pub mod token;
pub mod user;

pub use action::{
    Action, ActionChange, ActionError, ActionFilter, ActionKind, ActionRequest, ActionScope,
    ActionStatus, NewAction, RateLimit, Target,
};
pub use alert::{Alert, AlertDraft, AlertSource, AttackStage, Reason, SigmaRuleRef, MAX_EVIDENCE};
pub use audit::{AuditEntry, NewAudit};
pub use automation::{AutomationObject, AUTOMATION_PLAYBOOK, AUTOMATION_RULE, AUTOMATION_WEBHOOK};
pub use delivery::{Delivery, DeliveryFilter, DeliveryStatus, NewDelivery};
pub use entity::{Entity, EntityKind, EntityRole};
pub use enums::{AlertStatus, Classification, Determination, IncidentStatus, Severity};
pub use event::{ApiEvent, EventKind, QueryParams, BODY_SAMPLE_LIMIT};
pub use incident::{
    Comment, Incident, IncidentDetail, IncidentFilter, IncidentPatch, IncidentSort, Page,
    PriorityReason,
};
pub use inventory::{AuthMix, EndpointInfo, ParamInfo, ValueType};
pub use playbook_run::{NewRun, PlaybookRun, RunStatus, RunStep, RunSubject, StepStatus};
pub use roles::{Permission, Role};
pub use task::{ActorAccess, EntityActivity, NewTask, Task, TaskKind};
pub use time::{TimeRangeError, Timestamp, SANE_MAX, SANE_MIN};
pub use token::{validate_token_name, ApiToken, InvalidTokenName};
pub use user::{
    validate_password, validate_user_name, InvalidPassword, InvalidUserName, SavedView, Session,
    User,
};

/// Errors from parsing model values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A value outside a closed vocabulary.
    #[error("invalid {field}: {value:?}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: String,
    },
}
