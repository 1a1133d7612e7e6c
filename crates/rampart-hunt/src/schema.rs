//! The tables a query can read: each one's columns and types, declared once. The store maps
//! each [`Source`] to its rows and reads each column from the stored column named here.
//!
//! Every table has a `Timestamp` column (milliseconds in the store, rendered as RFC 3339): the
//! column the query's time range bounds.

use serde::Serialize;

/// A value type, with KQL's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    /// `true` / `false`.
    Bool,
    /// 64-bit integer.
    Long,
    /// 64-bit float.
    Real,
    /// Text.
    String,
    /// A point in time (milliseconds since the epoch in the store, RFC 3339 in results).
    DateTime,
    /// A duration (milliseconds in the store, `[d.]hh:mm:ss[.fff]` in results).
    TimeSpan,
    /// A JSON array (`make_set`), its elements sorted.
    Dynamic,
}

impl Type {
    /// KQL's name of the type (`long`, `datetime`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Long => "long",
            Type::Real => "real",
            Type::String => "string",
            Type::DateTime => "datetime",
            Type::TimeSpan => "timespan",
            Type::Dynamic => "dynamic",
        }
    }
    /// Long or real.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Long | Type::Real)
    }
    /// Stored as an integer (long, datetime, timespan, bool).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Type::Long | Type::DateTime | Type::TimeSpan | Type::Bool
        )
    }
}

/// Where a table's rows come from in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `events`.
    Events,
    /// `alerts` (with the title from the alert's draft).
    Alerts,
    /// `incidents`.
    Incidents,
    /// `incident_entities` with their incident's last activity.
    Entities,
    /// `actions`.
    Actions,
    /// `audit`.
    Audit,
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// The name queries use.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// The stored column it is read from (in the store's row source for the table).
    pub stored: &'static str,
}

/// A table queries can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// The name queries use.
    pub name: &'static str,
    /// Where its rows come from.
    pub source: Source,
    /// Its columns, in output order; the first is `Timestamp`, the time-range column.
    pub columns: &'static [ColumnDef],
}

impl TableDef {
    /// The stored column the time range bounds (that of `Timestamp`).
    pub fn time_column(&self) -> &'static str {
        self.columns[0].stored
    }
}

const fn c(name: &'static str, ty: Type, stored: &'static str) -> ColumnDef {
    ColumnDef { name, ty, stored }
}

use Type::{DateTime, Long, String as Str};

/// Every table, one per line of columns.
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "ApiEvents",
        source: Source::Events,
        columns: &[
            c("Timestamp", DateTime, "ts"),
            c("EventId", Long, "id"),
            c("ClientIp", Str, "client_ip"),
            c("Method", Str, "method"),
            c("Host", Str, "host"),
            c("Path", Str, "path"),
            c("Query", Str, "query"),
            c("Status", Long, "status"),
            c("RequestBytes", Long, "request_bytes"),
            c("ResponseBytes", Long, "response_bytes"),
            c("LatencyUs", Long, "latency_us"),
            c("UserAgent", Str, "user_agent"),
            c("Principal", Str, "principal"),
            c("ApiKeyId", Str, "api_key_id"),
            c("Service", Str, "service"),
            c("Kind", Str, "kind"),
            c("SourceFormat", Str, "source_format"),
        ],
    },
    TableDef {
        name: "Alerts",
        source: Source::Alerts,
        columns: &[
            c("Timestamp", DateTime, "first_seen"),
            c("AlertId", Long, "id"),
            c("IncidentId", Long, "incident_id"),
            c("Title", Str, "title"),
            c("Detector", Str, "detector"),
            c("Severity", Str, "severity"),
            c("SeverityRank", Long, "severity_rank"),
            c("Status", Str, "status"),
            c("Stage", Str, "stage"),
            c("LastSeen", DateTime, "last_seen"),
            c("CreatedAt", DateTime, "created_at"),
        ],
    },
    TableDef {
        name: "Incidents",
        source: Source::Incidents,
        columns: &[
            c("Timestamp", DateTime, "last_activity"),
            c("IncidentId", Long, "id"),
            c("Title", Str, "title"),
            c("Severity", Str, "severity"),
            c("SeverityRank", Long, "severity_rank"),
            c("Status", Str, "status"),
            c("AssignedTo", Str, "assigned_to"),
            c("Classification", Str, "classification"),
            c("Determination", Str, "determination"),
            c("Priority", Long, "priority"),
            c("AlertCount", Long, "alert_count"),
            c("FirstActivity", DateTime, "first_activity"),
            c("CreatedAt", DateTime, "created_at"),
            c("UpdatedAt", DateTime, "updated_at"),
        ],
    },
    TableDef {
        name: "Entities",
        source: Source::Entities,
        columns: &[
            c("Timestamp", DateTime, "last_activity"),
            c("IncidentId", Long, "incident_id"),
            c("Kind", Str, "kind"),
            c("Value", Str, "value"),
        ],
    },
    TableDef {
        name: "Actions",
        source: Source::Actions,
        columns: &[
            c("Timestamp", DateTime, "created_at"),
            c("ActionId", Long, "id"),
            c("Kind", Str, "kind"),
            c("Target", Str, "target"),
            c("Status", Str, "status"),
            c("IncidentId", Long, "incident_id"),
            c("RequestedBy", Str, "requested_by"),
            c("ExpiresAt", DateTime, "expires_at"),
            c("ChangedAt", DateTime, "changed_at"),
            c("Denied", Long, "denied"),
        ],
    },
    TableDef {
        name: "AuditLog",
        source: Source::Audit,
        columns: &[
            c("Timestamp", DateTime, "at"),
            c("AuditId", Long, "id"),
            c("Actor", Str, "actor"),
            c("Action", Str, "action"),
            c("ObjectType", Str, "object_type"),
            c("ObjectId", Str, "object_id"),
            c("Details", Str, "details"),
        ],
    },
];

/// The table named `name` (exact case, as in KQL).
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_its_time_column_and_names_are_unique() {
        for t in TABLES {
            assert_eq!(t.columns[0].name, "Timestamp", "{}", t.name);
            assert_eq!(t.columns[0].ty, Type::DateTime, "{}", t.name);
            for (i, c) in t.columns.iter().enumerate() {
                assert!(
                    t.columns[..i].iter().all(|d| d.name != c.name),
                    "{}.{} twice",
                    t.name,
                    c.name
                );
            }
        }
    }
}
