//! Settings: console users, API tokens, gateway keys and the protected entities. Each section
//! is shown to the roles holding its permission (`manage_users`, `manage_tokens`,
//! `manage_protected`); the server refuses the forms to everyone else.

use maud::{html, Markup};
use rampart_model::{ApiToken, Permission, Role, User};

use crate::fmt::{self, enc};
use crate::{page, Nav, Viewer};

/// What a new key is for: it decides the role (gateway keys are `enforcer` tokens) and what
/// the answer page says about using it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// An API token (`Authorization: Bearer`), of the role chosen.
    Api,
    /// An nginx `auth_request` / Envoy `ext_authz` key (`X-Rampart-Enforcer-Key`).
    Enforcer,
    /// A CrowdSec bouncer key (`X-Api-Key`).
    Bouncer,
}

impl KeyPurpose {
    /// The form value.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Api => "api",
            KeyPurpose::Enforcer => "enforcer",
            KeyPurpose::Bouncer => "bouncer",
        }
    }

    /// Parse the form value.
    pub fn parse(s: &str) -> Option<KeyPurpose> {
        [KeyPurpose::Api, KeyPurpose::Enforcer, KeyPurpose::Bouncer]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    /// The role a key of this purpose gets (`None`: the one chosen in the form).
    pub const fn role(self) -> Option<Role> {
        match self {
            KeyPurpose::Api => None,
            KeyPurpose::Enforcer | KeyPurpose::Bouncer => Some(Role::Enforcer),
        }
    }
}

/// What the settings page shows.
pub struct SettingsView<'a> {
    /// Console users (shown with `manage_users`).
    pub users: &'a [User],
    /// Tokens and keys (read only with `manage_tokens`; empty otherwise).
    pub tokens: &'a [ApiToken],
    /// The protected entities, by kind, from the configuration.
    pub protected: &'a [(&'static str, Vec<String>)],
    /// A message after a form was sent.
    pub flash: Option<&'a str>,
}

/// The roles a viewer may give a new console user: not machine roles, and none holding a
/// permission the viewer lacks.
pub fn grantable_roles(v: &Viewer) -> Vec<Role> {
    rampart_model::roles::NESTED
        .iter()
        .copied()
        .filter(|r| !r.is_machine() && v.role.may_grant(*r))
        .collect()
}

/// The settings page.
pub fn settings(v: &Viewer, view: &SettingsView<'_>) -> Markup {
    let (gateway, api): (Vec<&ApiToken>, Vec<&ApiToken>) =
        view.tokens.iter().partition(|t| t.role == Role::Enforcer);
    page(
        Some(v),
        Nav::Settings,
        "Settings",
        html! {
            @if let Some(f) = view.flash { (crate::flash("ok", f)) }
            header.page-head { h1 { "Settings" } }
            @if v.can(Permission::ManageUsers) {
                section.card id="users" {
                    h2 { "Console users" }
                    table.list id="user-list" {
                        thead { tr { th { "Name" } th { "Role" } th { "Created" } th { "Last sign-in" } th { "State" } th { "Change" } } }
                        tbody {
                            @for u in view.users {
                                tr data-user=(u.name) {
                                    td { (u.name) } td { code { (u.role.as_str()) } } td { (fmt::time(u.created_at)) }
                                    td { @match u.last_login_at { Some(t) => (fmt::time(t)), None => span.muted { "never" } } }
                                    td { @if u.disabled_at.is_some() { span.badge.off { "disabled" } } @else { span.badge.on { "active" } } }
                                    td {
                                        @if u.name != v.name && v.role.may_grant(u.role) {
                                            form.inline method="post" action={ "/settings/users/" (fmt::enc(&u.name)) "/disable" } {
                                                (v.csrf_field())
                                                @if u.disabled_at.is_some() {
                                                    input type="hidden" name="disabled" value="false";
                                                    button.secondary.small type="submit" data-enable=(u.name) { "Enable" }
                                                } @else {
                                                    input type="hidden" name="disabled" value="true";
                                                    button.danger.small type="submit" data-disable=(u.name) data-confirm={ "Disable " (u.name) " and end their sessions?" } { "Disable" }
                                                }
                                            }
                                            " "
                                            form.inline method="post" action={ "/settings/users/" (fmt::enc(&u.name)) "/password" } {
                                                (v.csrf_field())
                                                input type="password" name="password" placeholder="new password" minlength="8" required autocomplete="new-password";
                                                button.secondary.small type="submit" data-password=(u.name) { "Set password" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "New user" }
                    form.row method="post" action="/settings/users" id="new-user" {
                        (v.csrf_field())
                        label { "Name" input type="text" name="name" required maxlength="64" pattern="[A-Za-z0-9._@-]+" autocomplete="off"; }
                        label { "Role"
                            select name="role" required {
                                @for r in grantable_roles(v) { option value=(r.as_str()) { (r.as_str()) } }
                            }
                        }
                        label { "Password" input type="password" name="password" required minlength="8" maxlength="1024" autocomplete="new-password"; }
                        button type="submit" id="create-user" { "Create user" }
                    }
                    p.muted.small { "Passwords are stored as argon2id hashes. Machine roles (ingest, enforcer) are for tokens, not people." }
                }
            }
            @if v.can(Permission::ManageTokens) {
                section.card id="tokens" {
                    h2 { "API tokens" }
                    (token_table(v, "token-list", &api))
                    h3 { "New API token" }
                    form.row method="post" action="/settings/tokens" id="new-token" {
                        (v.csrf_field())
                        input type="hidden" name="purpose" value=(KeyPurpose::Api.as_str());
                        label { "Name" input type="text" name="name" required maxlength="64" pattern="[A-Za-z0-9._-]+" autocomplete="off"; }
                        label { "Role"
                            select name="role" required {
                                @for r in Role::ALL.iter().filter(|r| **r != Role::Enforcer) { option value=(r.as_str()) { (r.as_str()) } }
                            }
                        }
                        button type="submit" id="create-token" { "Create token" }
                    }
                    p.muted.small { "The token is shown once, on the next page; only its SHA-256 is stored." }
                }
                section.card id="gateway-keys" {
                    h2 { "Enforcer and bouncer keys" }
                    p.muted.small {
                        "Tokens of the " code { "enforcer" } " role: gateways (nginx " code { "auth_request" } ", Envoy "
                        code { "ext_authz" } ") send them as " code { "X-Rampart-Enforcer-Key" } ", CrowdSec bouncers as "
                        code { "X-Api-Key" } ". They reach the enforcement endpoints only."
                    }
                    (token_table(v, "gateway-key-list", &gateway))
                    div.row {
                        @for (purpose, label, id) in [(KeyPurpose::Enforcer, "New enforcer key", "create-enforcer"), (KeyPurpose::Bouncer, "New bouncer key", "create-bouncer")] {
                            form.inline method="post" action="/settings/tokens" {
                                (v.csrf_field())
                                input type="hidden" name="purpose" value=(purpose.as_str());
                                input type="text" name="name" required maxlength="64" pattern="[A-Za-z0-9._-]+" placeholder="name" autocomplete="off";
                                " "
                                button type="submit" id=(id) { (label) }
                            }
                        }
                    }
                }
            }
            @if v.can(Permission::ManageProtected) {
                section.card id="protected" {
                    h2 { "Protected entities" }
                    p.muted.small {
                        "No containment action may target these. They are configuration ("
                        code { "[contain.protected]" } " in rampart.toml, plus the trusted proxies and the "
                        code { "[detect.allow]" } " addresses) and read-only here: change the file and restart."
                    }
                    dl.kv id="protected-list" {
                        @for (kind, values) in view.protected {
                            dt { (kind) }
                            dd { @if values.is_empty() { span.muted { "none" } } @for x in values { code.chip { (x) } } }
                        }
                    }
                }
            }
        },
    )
}

fn token_table(v: &Viewer, id: &str, tokens: &[&ApiToken]) -> Markup {
    html! {
        table.list id=(id) {
            thead { tr { th { "Name" } th { "Role" } th { "Created" } th { "Last used" } th { "State" } th {} } }
            tbody {
                @for t in tokens {
                    tr data-token=(t.name) {
                        td { (t.name) } td { code { (t.role.as_str()) } } td { (fmt::time(t.created_at)) }
                        td { @match t.last_used_at { Some(at) => (fmt::time(at)), None => span.muted { "never" } } }
                        td {
                            @match t.revoked_at {
                                Some(at) => { span.badge.off { "revoked" } " " (fmt::time(at)) },
                                None => span.badge.on { "active" },
                            }
                        }
                        td {
                            @if t.revoked_at.is_none() {
                                form.inline method="post" action={ "/settings/tokens/" (enc(&t.name)) "/revoke" } {
                                    (v.csrf_field())
                                    button.small.danger type="submit" data-confirm={ "Revoke " (t.name) "? Whatever uses it is refused at once." } { "Revoke" }
                                }
                            }
                        }
                    }
                }
                @if tokens.is_empty() { tr { td colspan="6" .empty { "None." } } }
            }
        }
    }
}

/// The answer to a new token or key: its secret, shown this once.
pub fn secret_once(v: &Viewer, token: &ApiToken, secret: &str, purpose: KeyPurpose) -> Markup {
    page(
        Some(v),
        Nav::Settings,
        "New token",
        html! {
            section.card.secret-once {
                h1 { "Token " code { (token.name) } " created" }
                p { "Role " code { (token.role.as_str()) } ". Copy it now: it is not shown again, and only its hash is kept." }
                pre id="secret" { (secret) }
                @match purpose {
                    KeyPurpose::Api => p.muted { "Send it as " code { "Authorization: Bearer <token>" } "." },
                    KeyPurpose::Enforcer => p.muted { "Configure the gateway to send it as " code { "X-Rampart-Enforcer-Key" } " to " code { "/enforce/nginx" } " or " code { "/enforce/envoy" } "." },
                    KeyPurpose::Bouncer => p.muted { "Give it to the CrowdSec bouncer as its API key (" code { "X-Api-Key" } ") with this server's address as the LAPI URL." },
                }
                p { a href="/settings" { "Back to settings" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_roles_follow_permissions() {
        let view = SettingsView {
            users: &[],
            tokens: &[],
            protected: &[("IPs", vec!["10.0.0.0/8".into()])],
            flash: None,
        };
        let mgr = Viewer {
            name: "m".into(),
            role: Role::SocManager,
            csrf: "c".into(),
        };
        let out = settings(&mgr, &view).into_string();
        assert!(out.contains("id=\"new-user\""));
        assert!(
            !out.contains("id=\"new-token\""),
            "soc_manager has no manage_tokens"
        );
        assert!(out.contains("10.0.0.0/8"));
        assert!(
            !out.contains("<option value=\"admin\""),
            "soc_manager cannot give admin"
        );
        assert_eq!(
            grantable_roles(&mgr),
            [
                Role::Viewer,
                Role::Tier1,
                Role::Tier2,
                Role::Tier3,
                Role::SocManager
            ]
        );
        let admin = Viewer {
            role: Role::Admin,
            ..mgr
        };
        let out = settings(&admin, &view).into_string();
        assert!(out.contains("id=\"new-token\"") && out.contains("id=\"create-bouncer\""));
        assert_eq!(KeyPurpose::parse("bouncer"), Some(KeyPurpose::Bouncer));
        assert_eq!(KeyPurpose::Bouncer.role(), Some(Role::Enforcer));
    }
}
