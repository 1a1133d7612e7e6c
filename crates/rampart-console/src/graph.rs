//! The entity graph of an incident: the entities of its alerts (IPs, users, API keys,
//! endpoints, services, user agents) as nodes, and who acted on what as edges (an actor and a
//! target named by the same alert), drawn as inline SVG laid out on the server.
//!
//! Layout: actors in a left column, targets and related entities in a right column, each
//! sorted by kind then value, so the same alerts always give the same picture. No inline
//! style: positions are SVG presentation attributes, colours come from classes in
//! `console.css`. At most [`MAX_NODES`] nodes (the ones in the most alerts); the rest are
//! counted. Every node has a details panel in the flyout `console.js` opens on click, and a
//! row in the table under the picture (which works without script).

use std::collections::BTreeMap;

use maud::{html, Markup};
use rampart_model::{Alert, Entity, EntityKind, EntityRole, Timestamp};

use crate::fmt;

/// Most nodes drawn.
pub const MAX_NODES: usize = 60;
/// Width of the picture (SVG user units).
pub const WIDTH: i32 = 760;
const LEFT_X: i32 = 230;
const RIGHT_X: i32 = 530;
const TOP: i32 = 56;
const ROW: i32 = 40;
const LABEL_CHARS: usize = 30;

/// One entity of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its number (`data-node`).
    pub id: usize,
    /// Kind.
    pub kind: EntityKind,
    /// Value.
    pub value: String,
    /// Its strongest role over the alerts (attacker, else target, else related).
    pub role: EntityRole,
    /// Whether it is drawn as an actor (left column).
    pub actor: bool,
    /// The alerts it appears in: id and title, oldest first.
    pub alerts: Vec<(i64, String)>,
    /// First activity of those alerts.
    pub first_seen: Timestamp,
    /// Last activity of those alerts.
    pub last_seen: Timestamp,
    /// Centre, x.
    pub x: i32,
    /// Centre, y.
    pub y: i32,
}

/// Actor `from` and target `to` named by the same alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Actor node.
    pub from: usize,
    /// Target node.
    pub to: usize,
    /// Alerts naming both.
    pub alerts: u32,
}

/// The laid-out graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Nodes, left column first, each column top to bottom.
    pub nodes: Vec<Node>,
    /// Edges, by (from, to).
    pub edges: Vec<Edge>,
    /// Entities left out (beyond the node limit).
    pub omitted: usize,
    /// Height of the picture.
    pub height: i32,
}

fn role_rank(r: EntityRole) -> u8 {
    match r {
        EntityRole::Attacker => 0,
        EntityRole::Target => 1,
        EntityRole::Related => 2,
    }
}

/// A node's identity while building: kind and value.
type Key<'a> = (EntityKind, &'a str);

/// Whether an entity with this role in an alert acted (rather than being acted on).
fn acts(e: &Entity) -> bool {
    e.role == EntityRole::Attacker || (e.role == EntityRole::Related && e.kind.is_actor())
}

/// Build and lay out the graph of `alerts`, keeping at most `max_nodes` nodes.
pub fn build(alerts: &[Alert], max_nodes: usize) -> Graph {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by_key(|a| (a.draft.first_seen, a.id));
    let mut nodes: BTreeMap<Key<'_>, Node> = BTreeMap::new();
    let mut edges: BTreeMap<(Key<'_>, Key<'_>), u32> = BTreeMap::new();
    for a in sorted {
        let d = &a.draft;
        for e in &d.entities {
            let n = nodes.entry((e.kind, e.value.as_str())).or_insert(Node {
                id: 0,
                kind: e.kind,
                value: e.value.clone(),
                role: e.role,
                actor: false,
                alerts: Vec::new(),
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                x: 0,
                y: 0,
            });
            if role_rank(e.role) < role_rank(n.role) {
                n.role = e.role;
            }
            n.actor |= acts(e);
            if n.alerts.last().map(|x| x.0) != Some(a.id) {
                n.alerts.push((a.id, d.title.clone()));
            }
            n.first_seen = n.first_seen.min(d.first_seen);
            n.last_seen = n.last_seen.max(d.last_seen);
        }
        let mut pairs: Vec<_> = Vec::new();
        for from in d.entities.iter().filter(|e| acts(e)) {
            for to in d.entities.iter().filter(|e| !acts(e)) {
                pairs.push((
                    (from.kind, from.value.as_str()),
                    (to.kind, to.value.as_str()),
                ));
            }
        }
        pairs.sort();
        pairs.dedup();
        for p in pairs {
            *edges.entry(p).or_insert(0) += 1;
        }
    }
    // keep the nodes in the most alerts (actors first on a tie), then lay out by kind, value
    let mut all: Vec<Node> = nodes.into_values().collect();
    all.sort_by(|a, b| {
        b.alerts
            .len()
            .cmp(&a.alerts.len())
            .then(b.actor.cmp(&a.actor))
            .then(a.kind.cmp(&b.kind))
            .then(a.value.cmp(&b.value))
    });
    let omitted = all.len().saturating_sub(max_nodes);
    all.truncate(max_nodes);
    all.sort_by(|a, b| {
        b.actor
            .cmp(&a.actor)
            .then(a.kind.cmp(&b.kind))
            .then(a.value.cmp(&b.value))
    });
    let (mut left, mut right) = (0, 0);
    for (i, n) in all.iter_mut().enumerate() {
        n.id = i;
        let row = if n.actor { &mut left } else { &mut right };
        n.x = if n.actor { LEFT_X } else { RIGHT_X };
        n.y = TOP + *row * ROW;
        *row += 1;
    }
    let index = |k: &Key<'_>| all.iter().position(|n| n.kind == k.0 && n.value == k.1);
    let mut out_edges: Vec<Edge> = edges
        .iter()
        .filter_map(|((f, t), c)| {
            let (from, to) = (index(f)?, index(t)?);
            (all[from].actor && !all[to].actor).then_some(Edge {
                from,
                to,
                alerts: *c,
            })
        })
        .collect();
    out_edges.sort_by_key(|e| (e.from, e.to));
    let height = TOP + left.max(right).max(1) * ROW;
    Graph {
        nodes: all,
        edges: out_edges,
        omitted,
        height,
    }
}

/// The graph: the picture, the flyout with each node's details, and the same as a table.
pub fn render(g: &Graph) -> Markup {
    let entity = |n: &Node| Entity::new(n.kind, n.value.clone(), n.role);
    html! {
        div.graph id="graph" {
            @if g.nodes.is_empty() {
                p.muted { "No entities in this incident's alerts." }
            } @else {
                svg viewBox={ "0 0 " (WIDTH) " " (g.height) } width=(WIDTH) height=(g.height) role="img" aria-label="Entities of this incident and who acted on what" {
                    text.col-head x=(LEFT_X) y="24" text-anchor="middle" { "Actors" }
                    text.col-head x=(RIGHT_X) y="24" text-anchor="middle" { "Targets and related" }
                    @for e in &g.edges {
                        line class={ "edge w" (e.alerts.min(5)) } data-from=(e.from) data-to=(e.to)
                            x1=(g.nodes[e.from].x) y1=(g.nodes[e.from].y) x2=(g.nodes[e.to].x) y2=(g.nodes[e.to].y) {
                            title { (e.alerts) @if e.alerts == 1 { " alert" } @else { " alerts" } }
                        }
                    }
                    @for n in &g.nodes {
                        g class={ "node k-" (n.kind.as_str()) " r-" (fmt::role_label(n.role)) } data-node=(n.id) tabindex="0" role="button" {
                            title { (fmt::kind_label(n.kind)) " " (n.value) }
                            circle cx=(n.x) cy=(n.y) r="9" {}
                            @if n.actor {
                                text x=(n.x - 14) y=(n.y + 4) text-anchor="end" { (fmt::short(&n.value, LABEL_CHARS)) }
                            } @else {
                                text x=(n.x + 14) y=(n.y + 4) text-anchor="start" { (fmt::short(&n.value, LABEL_CHARS)) }
                            }
                        }
                    }
                }
            }
            @if g.omitted > 0 {
                p.muted id="graph-omitted" data-omitted=(g.omitted) {
                    (g.omitted) " more entities are not drawn (the graph keeps the " (MAX_NODES) " in the most alerts)."
                }
            }
            aside id="flyout" class="flyout" hidden {
                button.link type="button" id="flyout-close" { "Close" }
                @for n in &g.nodes {
                    div.flyout-body data-node=(n.id) hidden {
                        h3 { (fmt::kind_label(n.kind)) }
                        (details(n))
                        p { a href=(fmt::entity_href(n.kind, &n.value)) { "Open the entity page" } }
                    }
                }
            }
            @if !g.nodes.is_empty() {
                details.graph-table {
                    summary { "The entities as a table" }
                    table.list {
                        thead { tr { th { "Entity" } th { "Role" } th { "Alerts" } th { "First seen" } th { "Last seen" } } }
                        tbody {
                            @for n in &g.nodes {
                                tr id={ "node-" (n.id) } {
                                    td { (fmt::entity_link(&entity(n))) }
                                    td { (fmt::role_label(n.role)) }
                                    td.num { (n.alerts.len()) }
                                    td { (fmt::time(n.first_seen)) }
                                    td { (fmt::time(n.last_seen)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn details(n: &Node) -> Markup {
    html! {
        dl.kv {
            dt { "Kind" } dd { (n.kind.as_str()) }
            dt { "Value" } dd { code.wrap { (n.value) } }
            dt { "Role" } dd { (fmt::role_label(n.role)) }
            dt { "First seen" } dd { (fmt::time(n.first_seen)) }
            dt { "Last seen" } dd { (fmt::time(n.last_seen)) }
            dt { "Alerts" } dd {
                ul.plain {
                    @for (id, title) in n.alerts.iter().take(20) {
                        li { a href={ "?tab=alerts#alert-" (id) } { "#" (id) " " (fmt::short(title, 80)) } }
                    }
                    @if n.alerts.len() > 20 { li.muted { (n.alerts.len() - 20) " more" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::AttackStage;

    fn alert(id: i64, entities: Vec<Entity>) -> Alert {
        crate::test_support::alert(id, AttackStage::Exploitation, id * 1000, entities)
    }

    fn ip(v: &str) -> Entity {
        Entity::attacker_ip(v)
    }
    fn ep(v: &str) -> Entity {
        Entity::target_endpoint(v)
    }
    fn ua(v: &str) -> Entity {
        Entity::new(EntityKind::UserAgent, v, EntityRole::Related)
    }

    /// Nodes as `n:value@x,y`, edges as `from>to*alerts`.
    fn check(alerts: &[Alert], max: usize, expected: &str) {
        let g = build(alerts, max);
        let nodes: Vec<String> = g
            .nodes
            .iter()
            .map(|n| format!("{}:{}@{},{}", n.id, n.value, n.x, n.y))
            .collect();
        let edges: Vec<String> = g
            .edges
            .iter()
            .map(|e| format!("{}>{}*{}", e.from, e.to, e.alerts))
            .collect();
        let got = format!(
            "{} | {} | omitted {}",
            nodes.join(" "),
            edges.join(" "),
            g.omitted
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn layout_is_two_columns_with_actor_edges() {
        check(&[], 60, " |  | omitted 0");
        check(
            &[alert(1, vec![ip("203.0.113.9"), ep("GET /a")])],
            60,
            "0:203.0.113.9@230,56 1:GET /a@530,56 | 0>1*1 | omitted 0",
        );
        // two alerts: a shared endpoint counts twice, the user agent is a target of both ips
        check(
            &[
                alert(2, vec![ip("203.0.113.9"), ep("GET /a"), ua("curl")]),
                alert(1, vec![ip("198.51.100.1"), ep("GET /a")]),
                alert(3, vec![ip("203.0.113.9"), ep("GET /a")]),
            ],
            60,
            "0:198.51.100.1@230,56 1:203.0.113.9@230,96 2:GET /a@530,56 3:curl@530,96 | 0>2*1 1>2*2 1>3*1 | omitted 0",
        );
    }

    #[test]
    fn input_order_does_not_change_the_picture() {
        let a = vec![
            alert(1, vec![ip("10.0.0.2"), ep("GET /b")]),
            alert(2, vec![ip("10.0.0.1"), ep("GET /a"), ep("GET /b")]),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(build(&a, 60), build(&b, 60));
    }

    #[test]
    fn bounded_keeps_the_busiest_and_counts_the_rest() {
        let mut alerts: Vec<Alert> = (0..100)
            .map(|i| {
                alert(
                    i,
                    vec![ip(&format!("10.0.{}.{}", i / 250, i % 250)), ep("GET /hot")],
                )
            })
            .collect();
        alerts.push(alert(100, vec![ip("10.0.0.1"), ep("GET /hot")]));
        let g = build(&alerts, MAX_NODES);
        assert_eq!(g.nodes.len(), MAX_NODES);
        assert_eq!(g.omitted, 101 - MAX_NODES);
        assert!(
            g.nodes.iter().any(|n| n.value == "GET /hot"),
            "the hub stays"
        );
        assert!(
            g.nodes.iter().any(|n| n.value == "10.0.0.1"),
            "in two alerts"
        );
        assert_eq!(g.edges.len(), MAX_NODES - 1, "every kept ip to the hub");
        let out = render(&g).into_string();
        assert!(out.contains(&format!("data-omitted=\"{}\"", 101 - MAX_NODES)));
    }

    #[test]
    fn values_are_escaped_and_every_node_has_a_flyout() {
        let evil = "<script>alert(1)</script>";
        let g = build(&[alert(1, vec![ip("203.0.113.9"), ua(evil)])], 60);
        let out = render(&g).into_string();
        assert!(!out.contains("<script>"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!out.contains("style="), "no inline style");
        for n in &g.nodes {
            assert!(out.contains(&format!("<g class=\"node k-{}", n.kind.as_str())));
            assert!(out.contains(&format!(
                "<div class=\"flyout-body\" data-node=\"{}\" hidden",
                n.id
            )));
        }
        assert_eq!(out.matches("class=\"flyout-body\"").count(), 2);
        assert!(out.contains("<aside id=\"flyout\" class=\"flyout\" hidden"));
    }
}
