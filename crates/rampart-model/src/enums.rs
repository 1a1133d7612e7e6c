//! Closed vocabularies: severities, statuses, classifications (roles and permissions are in
//! [`crate::roles`]).
//!
//! Each has a wire name (what the REST API and the store use) and parses case-insensitively,
//! also accepting Microsoft Defender XDR's spellings so scripts written for that API work.

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];
            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $wire ),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ModelError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(
                    if s.eq_ignore_ascii_case($wire) $(|| s.eq_ignore_ascii_case($alias))* {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::ModelError::InvalidValue { field: $field, value: s.to_string() })
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// Severity of an alert or incident, in increasing order.
    Severity, "severity" {
        /// Informational only.
        Informational = "Informational" | "info",
        /// Low.
        Low = "Low",
        /// Medium.
        Medium = "Medium",
        /// High.
        High = "High",
        /// Critical (Rampart extension; Defender's view shows it as High).
        Critical = "Critical",
    }
}

impl Severity {
    /// Weight used in the priority score (0-40).
    pub const fn weight(self) -> u32 {
        match self {
            Severity::Informational => 0,
            Severity::Low => 10,
            Severity::Medium => 20,
            Severity::High => 30,
            Severity::Critical => 40,
        }
    }
    /// Map a Sigma rule level.
    pub fn from_sigma_level(level: &str) -> Severity {
        match level.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            _ => Severity::Informational,
        }
    }
}

wire_enum! {
    /// Incident status (Defender XDR's set).
    IncidentStatus, "status" {
        /// New or being worked; not yet resolved.
        Active = "Active" | "new",
        /// Someone is working on it.
        InProgress = "InProgress" | "in_progress",
        /// Closed.
        Resolved = "Resolved",
        /// Merged into another incident; see `redirect_to`.
        Redirected = "Redirected",
    }
}

impl IncidentStatus {
    /// Whether new alerts may still join it.
    pub const fn is_open(self) -> bool {
        matches!(self, IncidentStatus::Active | IncidentStatus::InProgress)
    }
}

wire_enum! {
    /// Alert status.
    AlertStatus, "alert status" {
        /// Open.
        New = "New" | "active",
        /// Being worked.
        InProgress = "InProgress" | "in_progress",
        /// Closed.
        Resolved = "Resolved",
    }
}

wire_enum! {
    /// How an incident was classified when worked.
    Classification, "classification" {
        /// Not classified yet.
        Unknown = "Unknown",
        /// A real attack.
        TruePositive = "TruePositive" | "true_positive",
        /// Real activity, but expected (pen test, admin).
        InformationalExpectedActivity = "InformationalExpectedActivity" | "informational_expected_activity" | "BenignPositive",
        /// Not what the detection said.
        FalsePositive = "FalsePositive" | "false_positive",
    }
}

wire_enum! {
    /// The finding behind a classification (Defender XDR's vocabulary plus API-specific ones).
    Determination, "determination" {
        /// Not determined.
        NotAvailable = "NotAvailable",
        /// Sanctioned security test.
        SecurityTesting = "SecurityTesting",
        /// Expected line-of-business activity.
        LineOfBusinessApplication = "LineOfBusinessApplication",
        /// Confirmed user or customer activity.
        ConfirmedActivity = "ConfirmedActivity",
        /// A multi-stage attack.
        MultiStagedAttack = "MultiStagedAttack",
        /// Credential stuffing, spraying or brute force.
        CompromisedAccount = "CompromisedAccount",
        /// Data taken out.
        DataExfiltration = "DataExfiltration" | "Exfiltration",
        /// Malicious user activity.
        MaliciousUserActivity = "MaliciousUserActivity",
        /// Scanner or automated probing.
        Automated = "Automated",
        /// Not malicious.
        NotMalicious = "NotMalicious" | "Clean",
        /// Not enough data to tell.
        InsufficientData = "InsufficientData" | "NoEnoughDataToValidate",
        /// Something else.
        Other = "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_defender_spellings() {
        assert_eq!(
            "new".parse::<IncidentStatus>().unwrap(),
            IncidentStatus::Active
        );
        assert_eq!(
            "inprogress".parse::<IncidentStatus>().unwrap(),
            IncidentStatus::InProgress
        );
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("bogus".parse::<Severity>().is_err());
        assert_eq!(
            "truepositive".parse::<Classification>().unwrap(),
            Classification::TruePositive
        );
    }

    #[test]
    fn severity_orders() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Informational);
    }
}
