//! Token checks from memory: a copy of the store's active tokens, batched last-use recording,
//! and a per-source limit on failed authentication.
//!
//! The store stays the truth, memory is a cache that can be rebuilt at any time (several
//! `rampart serve` nodes may share one PostgreSQL):
//! - [`TokenCache`] maps secret hashes to tokens. It is loaded from
//!   [`Store::active_tokens`] before the server accepts connections, updated at once by this
//!   node's create and revoke, and reloaded every `token_refresh_interval`, so a token revoked
//!   (or created) on another node is refused (or accepted) here within that interval.
//! - A successful check stamps the cached entry (one atomic store); [`maintain`] writes the
//!   stamps in one [`Store::record_token_use`] batch every `token_use_flush_interval`.
//! - [`FailureLimiter`] counts failed checks per source (IPv4 address or IPv6 /64) in a token
//!   bucket; over the limit a failing request gets 429 with `Retry-After` instead of 401.
//!   Successes are never counted nor refused: a valid token from a source that is over its
//!   failure limit still works, so an attacker sharing a NAT with an operator cannot lock the
//!   operator out (guessing a 256-bit token gains nothing from a higher rate either).
//!
//! The per-request path takes no lock: a lookup is one `ArcSwap` load and a hash map probe;
//! only failures lock the limiter's map.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rampart_model::{ApiToken, Role, Timestamp};
use rampart_store::{Store, StoreResult};
use tokio::sync::watch;

/// One cached token and its last use not yet written to the store.
#[derive(Debug)]
pub struct CachedToken {
    /// The token as the store had it when cached.
    pub token: ApiToken,
    /// Last use seen by this node, in millis (0: none).
    used: AtomicI64,
    /// Last use written to the store by this node, in millis.
    flushed: AtomicI64,
}

impl CachedToken {
    fn new(token: ApiToken) -> Self {
        CachedToken {
            token,
            used: AtomicI64::new(0),
            flushed: AtomicI64::new(0),
        }
    }
    /// Note a use at `at` (kept in memory until the next flush).
    pub fn touch(&self, at: Timestamp) {
        self.used.fetch_max(at.millis(), Relaxed);
    }
}

type TokenMap = HashMap<String, Arc<CachedToken>>;

/// The in-memory copy of the store's active tokens, by secret hash.
#[derive(Debug, Default)]
pub struct TokenCache {
    by_hash: ArcSwap<TokenMap>,
    /// Serialises changes (reload, create, revoke) so that a reload never brings back a token
    /// this node just revoked. Never taken on the request path.
    writer: tokio::sync::Mutex<()>,
}

impl TokenCache {
    /// The active token with this secret hash, if any.
    pub fn lookup(&self, secret_hash: &str) -> Option<Arc<CachedToken>> {
        self.by_hash.load().get(secret_hash).cloned()
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.by_hash.load().len()
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rebuild from the store's active tokens. Entries that did not change keep their
    /// unflushed uses.
    pub async fn reload(&self, store: &dyn Store) -> StoreResult<()> {
        let _w = self.writer.lock().await;
        let active = store.active_tokens().await?;
        let old = self.by_hash.load();
        let map: TokenMap = active
            .into_iter()
            .map(|(hash, token)| {
                let entry = match old.get(&hash) {
                    Some(e) if e.token.id == token.id && e.token.role == token.role => e.clone(),
                    _ => Arc::new(CachedToken::new(token)),
                };
                (hash, entry)
            })
            .collect();
        self.by_hash.store(Arc::new(map));
        Ok(())
    }

    /// Create a token in the store and cache it at once.
    pub async fn create(
        &self,
        store: &dyn Store,
        name: &str,
        role: Role,
        secret_hash: &str,
        actor: &str,
    ) -> StoreResult<ApiToken> {
        let _w = self.writer.lock().await;
        let token = store.create_token(name, role, secret_hash, actor).await?;
        let mut map = TokenMap::clone(&self.by_hash.load());
        map.insert(
            secret_hash.to_string(),
            Arc::new(CachedToken::new(token.clone())),
        );
        self.by_hash.store(Arc::new(map));
        Ok(token)
    }

    /// Revoke a token in the store and drop it from the cache at once.
    pub async fn revoke(
        &self,
        store: &dyn Store,
        name: &str,
        actor: &str,
    ) -> StoreResult<ApiToken> {
        let _w = self.writer.lock().await;
        let token = store.revoke_token(name, actor).await?;
        let mut map = TokenMap::clone(&self.by_hash.load());
        map.retain(|_, e| e.token.id != token.id);
        self.by_hash.store(Arc::new(map));
        Ok(token)
    }

    /// Write the uses seen since the last flush in one batch. Returns how many were written.
    pub async fn flush_uses(&self, store: &dyn Store) -> StoreResult<usize> {
        let map = self.by_hash.load_full();
        let pending: Vec<(&CachedToken, i64)> = map
            .values()
            .filter_map(|e| {
                let used = e.used.load(Relaxed);
                (used > e.flushed.load(Relaxed)).then_some((&**e, used))
            })
            .collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let batch: Vec<(i64, Timestamp)> = pending
            .iter()
            .map(|(e, used)| (e.token.id, Timestamp(*used)))
            .collect();
        store.record_token_use(&batch).await?;
        for (e, used) in &pending {
            e.flushed.fetch_max(*used, Relaxed);
        }
        Ok(batch.len())
    }
}

/// Keep the cache in step with the store until `stop` turns true: flush uses every
/// `flush_every`, reload every `refresh_every`; a last flush on the way out.
pub async fn maintain(
    cache: Arc<TokenCache>,
    store: Arc<dyn Store>,
    refresh_every: Duration,
    flush_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut refresh = tokio::time::interval(refresh_every);
    let mut flush = tokio::time::interval(flush_every);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = refresh.tick() => {
                if let Err(e) = cache.reload(&*store).await {
                    tracing::warn!(error = %e, "cannot refresh the token cache");
                }
            }
            _ = flush.tick() => {
                if let Err(e) = cache.flush_uses(&*store).await {
                    tracing::warn!(error = %e, "cannot record token uses");
                }
            }
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    if let Err(e) = cache.flush_uses(&*store).await {
        tracing::warn!(error = %e, "cannot record token uses");
    }
}

/// Where a request comes from, for per-source limits: an IPv4 address, or the /64 of an
/// IPv6 address (one host usually holds a whole /64). IPv4-mapped IPv6 addresses count as
/// IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKey(IpAddr);

impl SourceKey {
    /// The key of a peer address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => SourceKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    SourceKey(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

/// Limits of failed authentication per source.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimits {
    /// Failures a source may make at once (bucket size).
    pub burst: u32,
    /// Failures a source regains per minute.
    pub per_minute: u32,
    /// Most sources tracked; when full, sources whose bucket refilled are forgotten, and if
    /// none did a new source counts as over the limit (fail closed).
    pub max_sources: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets of failed authentication per source.
#[derive(Debug)]
pub struct FailureLimiter {
    limits: FailureLimits,
    buckets: Mutex<HashMap<SourceKey, Bucket>>,
}

impl FailureLimiter {
    /// An empty limiter.
    pub fn new(limits: FailureLimits) -> Self {
        FailureLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let per_sec = f64::from(self.limits.per_minute) / 60.0;
        let gained = now.saturating_duration_since(b.at).as_secs_f64() * per_sec;
        b.tokens = (b.tokens + gained).min(f64::from(self.limits.burst));
        b.at = now;
    }

    /// Count one failure from `source` at `now`. `None`: answer 401; `Some(wait)`: the source
    /// is over its limit, answer 429 and tell it to retry after `wait`.
    pub fn fail(&self, source: SourceKey, now: Instant) -> Option<Duration> {
        let full = f64::from(self.limits.burst);
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&source) && map.len() >= self.limits.max_sources {
            map.retain(|_, b| {
                let mut b2 = *b;
                self.refill(&mut b2, now);
                b2.tokens < full
            });
            if map.len() >= self.limits.max_sources {
                return Some(Duration::from_secs(60));
            }
        }
        let b = map.entry(source).or_insert(Bucket {
            tokens: full,
            at: now,
        });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            let per_sec = f64::from(self.limits.per_minute.max(1)) / 60.0;
            Some(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_key(ip: &str, expected: &str) {
        let SourceKey(k) = SourceKey::of(ip.parse().unwrap());
        assert_eq!(k.to_string(), expected, "{ip}");
    }

    #[test]
    fn source_keys() {
        check_key("203.0.113.9", "203.0.113.9");
        check_key("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::");
        check_key("::ffff:198.51.100.7", "198.51.100.7");
    }

    #[test]
    fn failures_limited_per_source_and_refilled() {
        let l = FailureLimiter::new(FailureLimits {
            burst: 3,
            per_minute: 60,
            max_sources: 2,
        });
        let a = SourceKey::of("203.0.113.1".parse().unwrap());
        let b = SourceKey::of("203.0.113.2".parse().unwrap());
        let c = SourceKey::of("203.0.113.3".parse().unwrap());
        let t0 = Instant::now();
        let got: Vec<bool> = (0..5).map(|_| l.fail(a, t0).is_some()).collect();
        assert_eq!(got, [false, false, false, true, true]);
        assert_eq!(l.fail(a, t0), Some(Duration::from_secs(1)));
        // Another source has its own bucket.
        assert_eq!(l.fail(b, t0), None);
        assert_eq!(l.fail(b, t0), None);
        // One failure regained per second.
        assert_eq!(l.fail(a, t0 + Duration::from_secs(1)), None);
        assert!(l.fail(a, t0 + Duration::from_secs(1)).is_some());
        // The map is full (a, b) and neither refilled: a new source fails closed.
        assert!(l.fail(c, t0 + Duration::from_secs(1)).is_some());
        // Once b's bucket is full again it is forgotten and c gets a bucket.
        assert_eq!(l.fail(c, t0 + Duration::from_secs(2)), None);
    }
}
