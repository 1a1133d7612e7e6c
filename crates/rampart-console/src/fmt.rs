//! Small pieces shared by every page: times, badges, entity links, URL encoding.

use maud::{html, Markup};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rampart_model::{
    Entity, EntityKind, EntityRole, Incident, IncidentStatus, Severity, Timestamp,
};

/// What a path segment or query value keeps unencoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode `s` for a path segment or a query value.
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A timestamp as `YYYY-MM-DD HH:MM:SS` UTC in a `<time>` element.
pub fn time(ts: Timestamp) -> Markup {
    let dt = chrono::DateTime::from_timestamp_millis(ts.millis()).unwrap_or_default();
    html! {
        time datetime=(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()) {
            (dt.format("%Y-%m-%d %H:%M:%S").to_string())
        }
    }
}

/// A duration in words (`3 min`, `2 h 5 min`).
pub fn duration_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A severity badge.
pub fn severity(s: Severity) -> Markup {
    html! { span class={ "badge sev-" (s.as_str().to_ascii_lowercase()) } { (s.as_str()) } }
}

/// A status badge.
pub fn status(s: IncidentStatus) -> Markup {
    html! { span class={ "badge st-" (s.as_str().to_ascii_lowercase()) } { (s.as_str()) } }
}

/// The priority score, its reasons on hover (a native tooltip) and in a list for keyboards.
pub fn priority(inc: &Incident) -> Markup {
    let reasons: Vec<String> = inc
        .priority_reasons
        .iter()
        .map(|r| format!("+{} {}", r.points, r.reason))
        .collect();
    html! {
        span.priority title=(reasons.join("\n")) data-reasons=(reasons.len()) {
            (inc.priority)
        }
    }
}

/// The console path of an entity's page.
pub fn entity_href(kind: EntityKind, value: &str) -> String {
    format!("/entities/{}/{}", kind.as_str(), enc(value))
}

/// An entity as a link to its page, with its kind.
pub fn entity_link(e: &Entity) -> Markup {
    html! {
        a.entity href=(entity_href(e.kind, &e.value)) data-kind=(e.kind.as_str()) {
            span.kind { (kind_label(e.kind)) } " " (short(&e.value, 80))
        }
    }
}

/// The words for an entity kind.
pub fn kind_label(k: EntityKind) -> &'static str {
    match k {
        EntityKind::Ip => "IP",
        EntityKind::User => "user",
        EntityKind::ApiKey => "API key",
        EntityKind::Endpoint => "endpoint",
        EntityKind::Service => "service",
        EntityKind::UserAgent => "user agent",
    }
}

/// The words for an entity's role.
pub fn role_label(r: EntityRole) -> &'static str {
    match r {
        EntityRole::Attacker => "attacker",
        EntityRole::Target => "target",
        EntityRole::Related => "related",
    }
}

/// `s` cut to `max` characters with an ellipsis.
pub fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_escapes() {
        assert_eq!(enc("GET /users/{id}"), "GET%20%2Fusers%2F%7Bid%7D");
        assert_eq!(
            entity_href(EntityKind::Ip, "10.0.0.1"),
            "/entities/ip/10.0.0.1"
        );
        let e = Entity::new(
            EntityKind::UserAgent,
            "<img src=x onerror=alert(1)>",
            Default::default(),
        );
        let out = entity_link(&e).into_string();
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains("%3Cimg"), "{out}");
        assert_eq!(duration_ms(125_000), "2 min");
        assert_eq!(short("abcdef", 3), "abc…");
    }
}
