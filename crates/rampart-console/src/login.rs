//! The sign-in page.

use maud::{html, Markup};

use crate::{page, Nav};

/// The sign-in form: `username`, `password`, the pre-session CSRF token (`csrf`, also in a
/// cookie: double submit) and where to go after (`next`, a console path).
pub fn login(csrf: &str, next: &str, error: Option<&str>, username: &str) -> Markup {
    page(
        None,
        Nav::None,
        "Sign in",
        html! {
            section.card.login {
                h1 { "Rampart" }
                p.muted { "Sign in to the console" }
                @if let Some(e) = error {
                    p.error id="login-error" role="alert" { (e) }
                }
                form method="post" action="/login" id="login-form" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label { "User name" input type="text" name="username" value=(username) autocomplete="username" required autofocus; }
                    label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { "Sign in" }
                }
                p.muted.small { "Users are created with " code { "rampart user create" } "." }
            }
        },
    )
}
