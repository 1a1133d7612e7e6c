//! The learned endpoint inventory: one [`EndpointInfo`] per host + method + path template.
//!
//! Memory is bounded: at most [`InventoryConfig::max_endpoints`] endpoints and
//! [`InventoryConfig::max_params_per_endpoint`] parameters each; events past the cap are
//! counted in [`Inventory::overflow_count`], not stored.

use std::collections::{BTreeMap, HashMap};

use rampart_model::{ApiEvent, EndpointInfo, ParamInfo, ValueType};

use crate::sensitive;
use crate::template::{id_segments, path_template};
use crate::values::classify_value;

/// Limits and switches of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryConfig {
    /// Most endpoints tracked; new endpoints past it are counted as overflow.
    pub max_endpoints: usize,
    /// Most parameters tracked per endpoint; further names are ignored.
    pub max_params_per_endpoint: usize,
    /// Longest parameter name kept (longer names are ignored as garbage).
    pub max_param_name_len: usize,
    /// Scan response bodies for sensitive data.
    pub scan_responses: bool,
    /// Record top-level JSON keys of write requests' bodies as `body` parameters.
    pub body_params: bool,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            max_endpoints: 50_000,
            max_params_per_endpoint: 100,
            max_param_name_len: 64,
            scan_responses: true,
            body_params: true,
        }
    }
}

/// The learned endpoints.
#[derive(Debug, Default)]
pub struct Inventory {
    cfg: InventoryConfig,
    endpoints: Vec<EndpointInfo>,
    /// `host \0 method \0 template` to index in `endpoints`.
    index: HashMap<Box<str>, usize>,
    dirty: Vec<bool>,
    dirty_list: Vec<usize>,
    overflow: u64,
    key_buf: String,
}

impl Inventory {
    /// An empty inventory.
    pub fn new(cfg: InventoryConfig) -> Self {
        Inventory {
            cfg,
            ..Default::default()
        }
    }

    /// Load endpoints known from before (the store). They are not marked dirty. Endpoints past
    /// the cap are dropped; duplicates replace earlier entries.
    pub fn seed(&mut self, endpoints: Vec<EndpointInfo>) {
        for ep in endpoints {
            Self::fill_key(&mut self.key_buf, &ep.host, &ep.method, &ep.path_template);
            if let Some(&i) = self.index.get(self.key_buf.as_str()) {
                self.endpoints[i] = ep;
            } else if self.endpoints.len() < self.cfg.max_endpoints {
                self.index
                    .insert(self.key_buf.as_str().into(), self.endpoints.len());
                self.endpoints.push(ep);
                self.dirty.push(false);
            }
        }
    }

    fn fill_key(buf: &mut String, host: &str, method: &str, template: &str) {
        buf.clear();
        buf.push_str(host);
        buf.push('\0');
        buf.push_str(method);
        buf.push('\0');
        buf.push_str(template);
    }

    /// Learn from one event.
    pub fn observe(&mut self, ev: &ApiEvent<'_>) {
        let template = path_template(&ev.path);
        Self::fill_key(&mut self.key_buf, &ev.host, &ev.method, &template);
        let i = match self.index.get(self.key_buf.as_str()) {
            Some(&i) => i,
            None => {
                if self.endpoints.len() >= self.cfg.max_endpoints {
                    self.overflow += 1;
                    return;
                }
                let i = self.endpoints.len();
                self.index.insert(self.key_buf.as_str().into(), i);
                self.endpoints.push(EndpointInfo {
                    host: ev.host.to_string(),
                    method: ev.method.to_string(),
                    path_template: template.to_string(),
                    first_seen: ev.ts,
                    last_seen: ev.ts,
                    calls: 0,
                    status_classes: [0; 6],
                    authenticated_calls: 0,
                    params: BTreeMap::new(),
                    sensitive_data: Vec::new(),
                });
                self.dirty.push(false);
                i
            }
        };
        if !self.dirty[i] {
            self.dirty[i] = true;
            self.dirty_list.push(i);
        }
        let cfg = &self.cfg;
        let ep = &mut self.endpoints[i];
        ep.calls += 1;
        ep.first_seen = ep.first_seen.min(ev.ts);
        ep.last_seen = ep.last_seen.max(ev.ts);
        let class = usize::from(ev.status / 100).min(5);
        ep.status_classes[class] += 1;
        if ev.authenticated {
            ep.authenticated_calls += 1;
        }
        for (name, value) in ev.query_params() {
            record_param(cfg, &mut ep.params, name, "query", classify_value(value));
        }
        if !matches!(template, std::borrow::Cow::Borrowed(_)) {
            for (n, value) in id_segments(&ev.path).enumerate() {
                let name = PATH_PARAM_NAMES.get(n).copied().unwrap_or("id_more");
                record_param(cfg, &mut ep.params, name, "path", classify_value(value));
            }
        }
        if cfg.body_params && is_write(&ev.method) {
            if let Some(body) = ev.request_body.as_deref() {
                record_body_params(cfg, &mut ep.params, body);
            }
        }
        if cfg.scan_responses {
            if let Some(body) = ev.response_body.as_deref() {
                for (kind, _) in sensitive::scan(body).iter() {
                    let name = kind.as_str();
                    if !ep.sensitive_data.iter().any(|s| s == name) {
                        ep.sensitive_data.push(name.to_string());
                    }
                }
            }
        }
    }

    /// Endpoints changed since the last call (for a batched upsert), in first-change order.
    pub fn take_dirty(&mut self) -> Vec<EndpointInfo> {
        let list = std::mem::take(&mut self.dirty_list);
        list.into_iter()
            .map(|i| {
                self.dirty[i] = false;
                self.endpoints[i].clone()
            })
            .collect()
    }

    /// Every tracked endpoint.
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointInfo> {
        self.endpoints.iter()
    }

    /// One endpoint by host, method and template.
    pub fn get(&self, host: &str, method: &str, template: &str) -> Option<&EndpointInfo> {
        let mut key = String::with_capacity(host.len() + method.len() + template.len() + 2);
        Self::fill_key(&mut key, host, method, template);
        self.index.get(key.as_str()).map(|&i| &self.endpoints[i])
    }

    /// Number of tracked endpoints.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether no endpoint is tracked.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Events whose endpoint was not tracked because the cap was reached.
    pub fn overflow_count(&self) -> u64 {
        self.overflow
    }
}

/// Names of path parameters by position among the template's `{id}`s.
const PATH_PARAM_NAMES: &[&str] = &["id", "id2", "id3", "id4", "id5", "id6", "id7", "id8"];

fn is_write(method: &str) -> bool {
    ["POST", "PUT", "PATCH"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
}

fn record_param(
    cfg: &InventoryConfig,
    params: &mut BTreeMap<String, ParamInfo>,
    name: &str,
    location: &str,
    ty: ValueType,
) {
    if name.is_empty() || name.len() > cfg.max_param_name_len {
        return;
    }
    let info = match params.get_mut(name) {
        Some(p) => p,
        None => {
            if params.len() >= cfg.max_params_per_endpoint {
                return;
            }
            params.entry(name.to_string()).or_insert_with(|| ParamInfo {
                types: BTreeMap::new(),
                location: location.to_string(),
            })
        }
    };
    *info.types.entry(ty).or_insert(0) += 1;
}

/// Top-level keys of a JSON object body, typed by their values. Non-JSON bodies are ignored.
fn record_body_params(cfg: &InventoryConfig, params: &mut BTreeMap<String, ParamInfo>, body: &str) {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return;
    }
    let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(trimmed)
    else {
        return;
    };
    for (k, v) in &map {
        let ty = match v {
            serde_json::Value::Bool(_) => ValueType::Boolean,
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => ValueType::Integer,
            serde_json::Value::Number(_) => ValueType::Number,
            serde_json::Value::String(s) => classify_value(s),
            _ => ValueType::String,
        };
        record_param(cfg, params, k, "body", ty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{AuthMix, Timestamp};
    use std::borrow::Cow;

    const DAY: i64 = 86_400_000;

    /// `METHOD path?query status [auth] [body=...] [resp=...]` at second `t`.
    fn ev(t: i64, line: &'static str) -> ApiEvent<'static> {
        let mut parts = line.splitn(4, ' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let status = parts.next().unwrap_or("0").parse().unwrap_or(0);
        let rest = parts.next().unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let body = rest
            .split_once("body=")
            .map(|(_, b)| b.split(" resp=").next().unwrap_or(""));
        let resp = rest.split_once("resp=").map(|(_, b)| b);
        ApiEvent {
            ts: Timestamp::from_millis(t * 1000),
            host: Cow::Borrowed("api.example"),
            method: Cow::Borrowed(method),
            path: Cow::Borrowed(path),
            query: Cow::Borrowed(query),
            status,
            authenticated: rest.starts_with("auth"),
            request_body: body.map(Cow::Borrowed),
            response_body: resp.map(Cow::Borrowed),
            ..Default::default()
        }
    }

    /// Render an endpoint compactly for comparisons.
    fn show(ep: &EndpointInfo) -> String {
        let params: Vec<String> = ep
            .params
            .iter()
            .map(|(k, p)| {
                let types: Vec<String> =
                    p.types.iter().map(|(t, c)| format!("{t:?}:{c}")).collect();
                format!("{k}@{}[{}]", p.location, types.join(","))
            })
            .collect();
        format!(
            "{} calls={} auth={:?} 2xx={} 4xx={} params={} sensitive={}",
            ep.key(),
            ep.calls,
            ep.auth(),
            ep.status_classes[2],
            ep.status_classes[4],
            params.join(" "),
            ep.sensitive_data.join(",")
        )
    }

    fn check(events: &[ApiEvent<'static>], expected: &[&str]) {
        let mut inv = Inventory::new(InventoryConfig::default());
        for e in events {
            inv.observe(e);
        }
        let mut got: Vec<String> = inv.endpoints().map(show).collect();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn learns_endpoints_params_and_auth() {
        let mut events = Vec::new();
        for i in 0..200 {
            events.push(ev(i, "GET /api/users/42?verbose=true 200 auth"));
            let line: &'static str = Box::leak(
                format!(
                    "GET /api/users/{}/orders?page={i}&email=a%40b.io 200",
                    1000 + i
                )
                .into_boxed_str(),
            );
            events.push(ev(i, line));
        }
        for i in 0..50 {
            events.push(ev(
                i,
                "POST /api/login 401 body={\"user\":\"bob\",\"password\":\"x\",\"remember\":true}",
            ));
        }
        events.push(ev(1, "POST /api/login 200 auth body={\"user\":\"bob\",\"password\":\"x\",\"remember\":true,\"otp\":123456}"));
        events.push(ev(
            1,
            "GET /api/export 200 auth resp=[{\"email\":\"a@x.io\",\"card\":\"4111111111111111\"}]",
        ));
        check(
            &events,
            &[
                "GET /api/users/{id} calls=200 auth=Authenticated 2xx=200 4xx=0 params=id@path[Integer:200] verbose@query[Boolean:200] sensitive=",
                "GET /api/users/{id}/orders calls=200 auth=Unauthenticated 2xx=200 4xx=0 params=email@query[Email:200] id@path[Integer:200] page@query[Integer:200] sensitive=",
                "POST /api/login calls=51 auth=Mixed 2xx=1 4xx=50 params=otp@body[Integer:1] password@body[String:51] remember@body[Boolean:51] user@body[String:51] sensitive=",
                "GET /api/export calls=1 auth=Authenticated 2xx=1 4xx=0 params= sensitive=card_number,email",
            ],
        );
    }

    #[test]
    fn get_bodies_and_non_json_are_not_params() {
        check(
            &[
                ev(0, "GET /a 200 body={\"x\":1}"),
                ev(0, "POST /b 200 body=x=1&y=2"),
                ev(0, "PUT /c 200 body={broken"),
            ],
            &[
                "GET /a calls=1 auth=Unauthenticated 2xx=1 4xx=0 params= sensitive=",
                "POST /b calls=1 auth=Unauthenticated 2xx=1 4xx=0 params= sensitive=",
                "PUT /c calls=1 auth=Unauthenticated 2xx=1 4xx=0 params= sensitive=",
            ],
        );
    }

    #[test]
    fn first_last_seen_and_inactivity() {
        let mut inv = Inventory::new(InventoryConfig::default());
        inv.observe(&ev(100, "GET /old 200"));
        inv.observe(&ev(50, "GET /old 200"));
        inv.observe(&ev(40 * 86_400, "GET /new 200"));
        let now = Timestamp::from_millis(40 * DAY);
        let old = inv.get("api.example", "GET", "/old").cloned();
        let old = old.as_ref();
        assert_eq!(old.map(|e| e.first_seen.secs()), Some(50));
        assert_eq!(old.map(|e| e.last_seen.secs()), Some(100));
        assert_eq!(old.map(|e| e.is_inactive(now)), Some(true));
        let new = inv.get("api.example", "GET", "/new");
        assert_eq!(new.map(|e| e.is_inactive(now)), Some(false));
        assert_eq!(new.map(|e| e.auth()), Some(AuthMix::Unauthenticated));
    }

    #[test]
    fn take_dirty_returns_changes_once() {
        let mut inv = Inventory::new(InventoryConfig::default());
        inv.observe(&ev(1, "GET /a 200"));
        inv.observe(&ev(2, "GET /b 200"));
        inv.observe(&ev(3, "GET /a 200"));
        let keys: Vec<String> = inv.take_dirty().iter().map(|e| e.key()).collect();
        assert_eq!(keys, vec!["GET /a", "GET /b"]);
        assert!(inv.take_dirty().is_empty());
        inv.observe(&ev(4, "GET /b 500"));
        let d = inv.take_dirty();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].calls, 2);
        assert_eq!(d[0].status_classes[5], 1);
    }

    #[test]
    fn seed_then_observe_continues_counts() {
        let mut first = Inventory::new(InventoryConfig::default());
        first.observe(&ev(1, "GET /a?x=1 200 auth"));
        let saved = first.take_dirty();
        let mut inv = Inventory::new(InventoryConfig::default());
        inv.seed(saved);
        assert!(
            inv.take_dirty().is_empty(),
            "seeded endpoints are not dirty"
        );
        inv.observe(&ev(2, "GET /a?x=2 200"));
        let d = inv.take_dirty();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].calls, 2);
        assert_eq!(d[0].auth(), AuthMix::Mixed);
        assert_eq!(
            d[0].params
                .get("x")
                .map(|p| p.types.get(&ValueType::Integer)),
            Some(Some(&2))
        );
    }

    #[test]
    fn caps_bound_memory_on_random_paths() {
        let mut inv = Inventory::new(InventoryConfig {
            max_endpoints: 10,
            max_params_per_endpoint: 3,
            ..Default::default()
        });
        for i in 0..1000 {
            let p: &'static str = Box::leak(
                format!("GET /rand/w{}x/q?a{}=1 200", i * 7919 % 1000, i % 9).into_boxed_str(),
            );
            inv.observe(&ev(i, p));
        }
        assert_eq!(inv.len(), 10);
        assert_eq!(inv.overflow_count(), 990);
        assert!(inv.endpoints().all(|e| e.params.len() <= 3));
        let long: &'static str =
            Box::leak(format!("GET /rand/w0x/q?{}=1 200", "n".repeat(100)).into_boxed_str());
        inv.observe(&ev(0, long));
        let ep = inv.get("api.example", "GET", "/rand/w0x/q");
        assert_eq!(
            ep.map(|e| e.params.keys().all(|k| k.len() < 100)),
            Some(true)
        );
    }
}
