//! Rampart's web console: every page as a pure function from a view model to HTML.
//!
//! Pages are written with [`maud`], whose templates escape every interpolated value: an
//! attacker-controlled path, user agent or body shown on a page is text, never markup. There is
//! no inline script or style anywhere (the server sends a Content-Security-Policy without
//! `'unsafe-inline'`); the only script is [`JS`], served from `/static/console.js`, and the only
//! stylesheet [`CSS`]. This crate does no I/O and knows no HTTP: the server crate reads the
//! store, builds the view models and sends what these functions return.

pub mod actions;
pub mod automation;
pub mod detail;
pub mod entity;
pub mod fmt;
pub mod graph;
pub mod hunt;
pub mod inventory;
pub mod login;
pub mod pages;
pub mod queue;
pub mod settings;
pub mod story;
pub mod walkthrough;

#[cfg(test)]
mod test_support;

use maud::{html, Markup, DOCTYPE};
use rampart_model::{Permission, Role};

/// The console's stylesheet (served at `/static/console.css`).
pub const CSS: &str = include_str!("../assets/console.css");
/// The console's only script (served at `/static/console.js`): progressive enhancement only
/// (live queue, copy link, select all, tabs, graph flyout, confirmations); every page works
/// without it.
pub const JS: &str = include_str!("../assets/console.js");

/// Who is looking at a page: the signed-in user, their role and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// User name.
    pub name: String,
    /// Role: what the page offers follows [`rampart_model::roles::MATRIX`] (the server refuses
    /// the rest whatever a page shows).
    pub role: Role,
    /// The CSRF token every form carries.
    pub csrf: String,
}

impl Viewer {
    /// Whether the viewer's role holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.role.grants(p)
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

/// The navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The incident queue and incident pages.
    Incidents,
    /// The API inventory.
    Inventory,
    /// The action center.
    Actions,
    /// Detectors and Sigma rules.
    Detectors,
    /// Automation rules, playbooks and webhooks.
    Automation,
    /// SOC metrics.
    Metrics,
    /// Hunting.
    Hunt,
    /// Settings.
    Settings,
    /// The first-incident walkthrough.
    Walkthrough,
    /// None (entity pages, errors).
    None,
}

/// A whole page: the layout around `body`. `viewer` is `None` on the sign-in page.
pub fn page(viewer: Option<&Viewer>, nav: Nav, title: &str, body: Markup) -> Markup {
    let item = |n: Nav, href: &str, label: &str| {
        html! { a href=(href) class=@if n == nav { "active" } { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Rampart" }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/console.js" defer {}
            }
            @match viewer {
                Some(v) => body data-user=(v.name) data-role=(v.role.as_str()) data-csrf=(v.csrf) {
                    nav.top {
                        a.brand href="/incidents" { "Rampart" }
                        (item(Nav::Incidents, "/incidents", "Incidents"))
                        (item(Nav::Inventory, "/inventory", "Inventory"))
                        (item(Nav::Actions, "/actions", "Actions"))
                        (item(Nav::Detectors, "/detectors", "Detectors"))
                        (item(Nav::Automation, "/automation", "Automation"))
                        (item(Nav::Metrics, "/soc", "Metrics"))
                        @if v.can(Permission::Hunt) {
                            (item(Nav::Hunt, "/hunt", "Hunting"))
                        }
                        (item(Nav::Walkthrough, "/walkthrough", "Walkthrough"))
                        @if v.can(Permission::ManageUsers) || v.can(Permission::ManageTokens) || v.can(Permission::ManageProtected) {
                            (item(Nav::Settings, "/settings", "Settings"))
                        }
                        span.spacer {}
                        span.who { (v.name) " · " span.role { (v.role.as_str()) } }
                        form.inline method="post" action="/logout" {
                            (v.csrf_field())
                            button.link type="submit" id="logout" { "Sign out" }
                        }
                    }
                    main { (body) }
                }
                None => body.bare {
                    main { (body) }
                }
            }
        }
    }
}

/// An error page: what went wrong, in words, and a way back.
pub fn error_page(viewer: Option<&Viewer>, status: u16, message: &str) -> Markup {
    page(
        viewer,
        Nav::None,
        "Error",
        html! {
            section.card.error-page {
                h1 { (status) }
                p.error { (message) }
                p { a href="/incidents" { "Back to the incident queue" } }
            }
        },
    )
}

/// A flash message at the top of a page (after a form was sent).
pub fn flash(kind: &str, message: &str) -> Markup {
    html! { div class={ "flash " (kind) } role="status" { (message) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_escapes_and_links_no_inline_script() {
        let v = Viewer {
            name: "<b>x</b>".into(),
            role: Role::Tier1,
            csrf: "c\"srf".into(),
        };
        let out = page(
            Some(&v),
            Nav::Incidents,
            "<script>t</script>",
            html! { p { "hi" } },
        )
        .into_string();
        assert!(out.contains("&lt;b&gt;x&lt;/b&gt;"), "{out}");
        assert!(out.contains("&lt;script&gt;t&lt;/script&gt;"));
        assert!(out.contains("value=\"c&quot;srf\""));
        assert!(!out.contains("<script>"), "the only script tag has a src");
        assert!(!out.contains("style="), "no inline style");
        assert!(!out.contains("href=\"/settings\""), "tier1 has no settings");
    }
}
