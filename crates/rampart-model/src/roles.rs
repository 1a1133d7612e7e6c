//! Roles and permissions: who may do what, in one table.
//!
//! A token has one [`Role`]; a route (and, later, an action kind or a console page) needs one
//! [`Permission`]. [`MATRIX`] says which role holds which permission, and nothing else does:
//! the server checks `role.grants(permission)` and the README's table is generated from it.
//! The SOC roles are nested: `viewer` < `tier1` < `tier2` < `tier3` < `soc_manager` <
//! `admin` (each holds every permission of the one before). `ingest` and `enforcer` are
//! machine roles outside that chain; `admin` holds their permissions too.

use crate::enums::wire_enum;

wire_enum! {
    /// What an API token (and, later, a console user) is allowed to do.
    Role, "role" {
        /// Read only.
        Viewer = "viewer",
        /// Incident responder: triage and manage incidents (assign, status, severity, tags,
        /// comments, classification and determination, rename, merge).
        Tier1 = "tier1",
        /// Investigator: tier1, investigation, low-impact containment, reverting its own
        /// actions. `analyst`, the role's name before the SOC roles, still parses as it.
        Tier2 = "tier2" | "analyst",
        /// Advanced analyst / hunter: tier2, high-impact containment, approvals, hunting.
        Tier3 = "tier3",
        /// SOC manager: tier3, automation rules, metrics, users, protected entities.
        SocManager = "soc_manager" | "soc-manager" | "socmanager",
        /// Everything, including tokens and configuration.
        Admin = "admin",
        /// Machine role: pushes events and alerts, nothing else.
        Ingest = "ingest",
        /// Machine role: the enforcement endpoints (gateways), nothing else.
        Enforcer = "enforcer",
    }
}

wire_enum! {
    /// One thing a role may be allowed to do; each route needs exactly one.
    Permission, "permission" {
        /// Read incidents, alerts, comments, inventory, audit, the OpenAPI document and the
        /// Prometheus counters.
        Read = "read",
        /// Change an incident: assign, status, severity, tags, classification, determination,
        /// title.
        Triage = "triage",
        /// Comment on an incident.
        Comment = "comment",
        /// Merge an incident into another.
        Merge = "merge",
        /// Investigate: query stored events and pivot on entities.
        Investigate = "investigate",
        /// Low-impact containment: block one IP, disable one API key or principal, rate-limit.
        ContainLow = "contain_low",
        /// High-impact containment: block ranges, isolate an endpoint or a service.
        ContainHigh = "contain_high",
        /// Revert the containment actions one requested.
        RevertOwn = "revert_own",
        /// Revert anyone's containment actions.
        RevertAny = "revert_any",
        /// Approve containment actions that need approval (someone else's).
        Approve = "approve",
        /// Threat hunting: saved searches and hunting queries.
        Hunt = "hunt",
        /// Create and change automation rules and playbooks.
        ManageAutomation = "manage_automation",
        /// SOC metrics: time to acknowledge, contain and resolve, workload.
        ViewMetrics = "view_metrics",
        /// Manage console users.
        ManageUsers = "manage_users",
        /// Manage protected entities (that no action may target).
        ManageProtected = "manage_protected",
        /// Create, list and revoke API tokens.
        ManageTokens = "manage_tokens",
        /// Change the running configuration.
        Configure = "configure",
        /// Push events and alerts.
        Ingest = "ingest",
        /// Call the enforcement endpoints (gateways asking whether to let a request through).
        Enforce = "enforce",
    }
}

const Y: bool = true;
const N: bool = false;
const ROLES: usize = Role::ALL.len();
const PERMISSIONS: usize = Permission::ALL.len();

/// Which role holds which permission: one row per permission, in [`Permission::ALL`] order;
/// one column per role, in [`Role::ALL`] order (`Y` grants).
#[rustfmt::skip]
pub const MATRIX: [(Permission, [bool; ROLES]); PERMISSIONS] = [
    //                              viewer tier1 tier2 tier3 soc_manager admin ingest enforcer
    (Permission::Read,             [Y,     Y,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::Triage,           [N,     Y,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::Comment,          [N,     Y,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::Merge,            [N,     Y,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::Investigate,      [N,     N,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::ContainLow,       [N,     N,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::ContainHigh,      [N,     N,    N,    Y,    Y,          Y,    N,     N]),
    (Permission::RevertOwn,        [N,     N,    Y,    Y,    Y,          Y,    N,     N]),
    (Permission::RevertAny,        [N,     N,    N,    Y,    Y,          Y,    N,     N]),
    (Permission::Approve,          [N,     N,    N,    Y,    Y,          Y,    N,     N]),
    (Permission::Hunt,             [N,     N,    N,    Y,    Y,          Y,    N,     N]),
    (Permission::ManageAutomation, [N,     N,    N,    N,    Y,          Y,    N,     N]),
    (Permission::ViewMetrics,      [N,     N,    N,    N,    Y,          Y,    N,     N]),
    (Permission::ManageUsers,      [N,     N,    N,    N,    Y,          Y,    N,     N]),
    (Permission::ManageProtected,  [N,     N,    N,    N,    Y,          Y,    N,     N]),
    (Permission::ManageTokens,     [N,     N,    N,    N,    N,          Y,    N,     N]),
    (Permission::Configure,        [N,     N,    N,    N,    N,          Y,    N,     N]),
    (Permission::Ingest,           [N,     N,    N,    N,    N,          Y,    Y,     N]),
    (Permission::Enforce,          [N,     N,    N,    N,    N,          Y,    N,     Y]),
];

// The rows are in `Permission::ALL` order, so a permission's row is found by its index.
const _: () = {
    let mut i = 0;
    while i < PERMISSIONS {
        assert!(
            MATRIX[i].0 as usize == i,
            "MATRIX rows out of Permission order"
        );
        i += 1;
    }
};

/// The chain of nested SOC roles, each holding every permission of the one before.
pub const NESTED: &[Role] = &[
    Role::Viewer,
    Role::Tier1,
    Role::Tier2,
    Role::Tier3,
    Role::SocManager,
    Role::Admin,
];

impl Role {
    /// Whether this role holds `permission` (a lookup in [`MATRIX`]).
    pub const fn grants(self, permission: Permission) -> bool {
        MATRIX[permission as usize].1[self as usize]
    }

    /// The permissions this role holds, in [`Permission::ALL`] order.
    pub fn permissions(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.grants(*p))
    }

    /// Whether this is a machine role (`ingest`, `enforcer`): for API tokens and gateway
    /// keys, never for a person signing in to the console.
    pub const fn is_machine(self) -> bool {
        matches!(self, Role::Ingest | Role::Enforcer)
    }

    /// Whether a holder of this role may give `other` to someone (a console user it
    /// creates): only a role all of whose permissions it holds itself, so no one hands out
    /// more than they have (a `soc_manager` cannot make an `admin`).
    pub fn may_grant(self, other: Role) -> bool {
        other.permissions().all(|p| self.grants(p))
    }
}

impl Permission {
    /// The roles that hold this permission, in [`Role::ALL`] order.
    pub fn roles(self) -> impl Iterator<Item = Role> {
        Role::ALL.iter().copied().filter(move |r| r.grants(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(role: Role, expected: &[Permission]) {
        assert_eq!(role.permissions().collect::<Vec<_>>(), expected, "{role}");
    }

    #[test]
    fn each_role_holds_what_the_plan_says() {
        use Permission::*;
        check(Role::Viewer, &[Read]);
        check(Role::Tier1, &[Read, Triage, Comment, Merge]);
        check(
            Role::Tier2,
            &[
                Read,
                Triage,
                Comment,
                Merge,
                Investigate,
                ContainLow,
                RevertOwn,
            ],
        );
        check(
            Role::Tier3,
            &[
                Read,
                Triage,
                Comment,
                Merge,
                Investigate,
                ContainLow,
                ContainHigh,
                RevertOwn,
                RevertAny,
                Approve,
                Hunt,
            ],
        );
        check(
            Role::SocManager,
            &[
                Read,
                Triage,
                Comment,
                Merge,
                Investigate,
                ContainLow,
                ContainHigh,
                RevertOwn,
                RevertAny,
                Approve,
                Hunt,
                ManageAutomation,
                ViewMetrics,
                ManageUsers,
                ManageProtected,
            ],
        );
        check(Role::Admin, Permission::ALL);
        check(Role::Ingest, &[Ingest]);
        check(Role::Enforcer, &[Enforce]);
    }

    #[test]
    fn nested_roles_are_supersets_of_the_one_before() {
        for pair in NESTED.windows(2) {
            let (lower, upper) = (pair[0], pair[1]);
            for p in lower.permissions() {
                assert!(upper.grants(p), "{upper} lacks {p} that {lower} holds");
            }
            assert!(
                upper.permissions().count() > lower.permissions().count(),
                "{upper} adds nothing to {lower}"
            );
        }
    }

    #[test]
    fn admin_holds_everything_and_every_permission_is_held_by_a_machine_or_soc_role() {
        for p in Permission::ALL {
            assert!(Role::Admin.grants(*p), "admin lacks {p}");
            assert!(p.roles().count() >= 1);
        }
    }

    #[test]
    fn roles_grant_only_what_they_hold() {
        let cases = [
            (Role::Admin, Role::Admin, true),
            (Role::Admin, Role::SocManager, true),
            (Role::SocManager, Role::SocManager, true),
            (Role::SocManager, Role::Tier3, true),
            (Role::SocManager, Role::Admin, false),
            (Role::SocManager, Role::Ingest, false),
            (Role::Tier3, Role::SocManager, false),
            (Role::Viewer, Role::Viewer, true),
            (Role::Viewer, Role::Tier1, false),
        ];
        for (by, given, ok) in cases {
            assert_eq!(by.may_grant(given), ok, "{by} gives {given}");
        }
        let machine: Vec<Role> = Role::ALL
            .iter()
            .copied()
            .filter(|r| r.is_machine())
            .collect();
        assert_eq!(machine, [Role::Ingest, Role::Enforcer]);
    }

    #[test]
    fn matrix_rows_follow_permission_order() {
        let rows: Vec<Permission> = MATRIX.iter().map(|(p, _)| *p).collect();
        assert_eq!(rows, Permission::ALL);
    }

    #[test]
    fn role_names_parse_and_analyst_is_tier2() {
        let cases = [
            ("viewer", Some(Role::Viewer)),
            ("tier1", Some(Role::Tier1)),
            ("Tier2", Some(Role::Tier2)),
            ("analyst", Some(Role::Tier2)),
            ("ANALYST", Some(Role::Tier2)),
            ("tier3", Some(Role::Tier3)),
            ("soc_manager", Some(Role::SocManager)),
            ("soc-manager", Some(Role::SocManager)),
            ("admin", Some(Role::Admin)),
            ("ingest", Some(Role::Ingest)),
            ("enforcer", Some(Role::Enforcer)),
            ("root", None),
            ("tier4", None),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<Role>().ok(), expected, "{input:?}");
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r), "{r} round-trips");
        }
        assert_eq!(
            Role::Tier2.as_str(),
            "tier2",
            "analyst is written back as tier2"
        );
        assert_eq!(
            "analyst".parse::<Role>().unwrap().to_string(),
            "tier2",
            "an old analyst row reads as tier2"
        );
    }

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
        }
        assert!("sudo".parse::<Permission>().is_err());
    }
}
