//! One shape for every detector: a config struct read from its own `[detect.<id>]` section,
//! a [`Detector`] impl, and one [`Registration`] line in the registry (`rampart-pipeline`'s
//! `REGISTRY` lists behavioural, content and Sigma detectors alike).
//!
//! A section is a table of the detector's settings plus `enabled` (default `true`); every
//! other key must be a field of the detector's config struct, so a typo is an error that
//! names the detector, never a silently ignored threshold. Runtime handles a detector needs
//! (threat-intelligence feeds, an OpenAPI spec, Sigma rules) are not configuration: the
//! caller passes them as [`Resources`].

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Detector;

/// A detector section that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A section names no registered detector.
    #[error("unknown detector {id:?} (known: {known})")]
    Unknown {
        /// The id as written.
        id: String,
        /// The registered ids, comma-separated.
        known: String,
    },
    /// A section's settings do not fit its detector's config.
    #[error("invalid [detect.{id}] settings")]
    Invalid {
        /// The detector id.
        id: String,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// A section is not a table, or `enabled` is not a boolean.
    #[error("[detect.{id}] must be a table with an optional boolean `enabled`")]
    Shape {
        /// The detector id.
        id: String,
    },
}

/// The `[detect.<id>]` sections, as written (id -> table).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Settings(BTreeMap<String, serde_json::Value>);

impl Settings {
    /// Whether detector `id` runs (`enabled`, default `true`).
    pub fn enabled(&self, id: &str) -> bool {
        self.0
            .get(id)
            .and_then(|s| s.get("enabled"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true)
    }

    /// Turn detector `id` on or off.
    pub fn set_enabled(&mut self, id: &str, on: bool) {
        let section = self
            .0
            .entry(id.to_string())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(obj) = section.as_object_mut() {
            obj.insert("enabled".into(), on.into());
        }
    }

    /// The config of detector `id`: its section read into `C` (defaults for what it leaves
    /// out), or `C::default()` when there is no section.
    pub fn section<C: DeserializeOwned + Default>(&self, id: &str) -> Result<C, ConfigError> {
        let Some(section) = self.0.get(id) else {
            return Ok(C::default());
        };
        let Some(obj) = section.as_object() else {
            return Err(ConfigError::Shape { id: id.into() });
        };
        if obj.get("enabled").is_some_and(|e| !e.is_boolean()) {
            return Err(ConfigError::Shape { id: id.into() });
        }
        let rest: serde_json::Map<String, serde_json::Value> = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "enabled")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(serde_json::Value::Object(rest)).map_err(|source| {
            ConfigError::Invalid {
                id: id.into(),
                source,
            }
        })
    }

    /// Set detector `id`'s config (keeps its `enabled`).
    pub fn set<C: Serialize>(&mut self, id: &str, cfg: &C) {
        let mut v = serde_json::to_value(cfg).expect("detector configs serialize");
        if let (Some(obj), Some(on)) = (v.as_object_mut(), self.0.get(id).map(|_| self.enabled(id)))
        {
            obj.insert("enabled".into(), on.into());
        }
        self.0.insert(id.to_string(), v);
    }

    /// Change detector `id`'s config in place (from its current section or the defaults).
    pub fn update<C: Serialize + DeserializeOwned + Default>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut C),
    ) {
        let mut c: C = self.section(id).expect("the section was valid");
        f(&mut c);
        self.set(id, &c);
    }

    /// Ids that have a section.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The raw section of `id`, when there is one.
    pub fn raw(&self, id: &str) -> Option<&serde_json::Value> {
        self.0.get(id)
    }

    /// Insert a raw section (as read from a configuration file).
    pub fn insert_raw(&mut self, id: impl Into<String>, section: serde_json::Value) {
        self.0.insert(id.into(), section);
    }
}

/// Runtime handles detectors may need (feeds, specs, rule sets), by type.
#[derive(Clone, Default)]
pub struct Resources {
    items: Vec<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resources({} items)", self.items.len())
    }
}

impl Resources {
    /// Add (or replace) the handle of type `T`.
    pub fn insert<T: Any + Send + Sync>(&mut self, v: Arc<T>) {
        self.items.retain(|i| !i.is::<T>());
        self.items.push(v);
    }
    /// With the handle of type `T` added.
    pub fn with<T: Any + Send + Sync>(mut self, v: Arc<T>) -> Self {
        self.insert(v);
        self
    }
    /// The handle of type `T`, when one was given.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.items
            .iter()
            .find_map(|i| Arc::clone(i).downcast::<T>().ok())
    }
}

/// Builds one detector from its settings section and the resources.
pub type BuildFn = fn(&Settings, &Resources) -> Result<Box<dyn Detector>, ConfigError>;

/// One registry line: a detector's id, how to build it, and its default settings.
#[derive(Clone, Copy)]
pub struct Registration {
    /// The detector id (`bola`, `injection`, `sigma`, ...): its `[detect.<id>]` section.
    pub id: &'static str,
    /// Build it from `[detect.<id>]`.
    pub build: BuildFn,
    /// Its default settings, as a table (what `rampart detectors --defaults` prints).
    pub defaults: fn() -> serde_json::Value,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registration({})", self.id)
    }
}

/// The default settings of a detector whose constructor takes a `C`.
pub fn defaults_of<C: Serialize + Default, D>(_build: fn(C, &Resources) -> D) -> serde_json::Value {
    serde_json::to_value(C::default()).expect("detector configs serialize")
}

/// One registry line: `register!("bola", enumeration::bola)` where `bola(cfg: BolaConfig,
/// res: &Resources) -> Box<dyn Detector>`; the config type is the constructor's.
#[macro_export]
macro_rules! register {
    ($id:literal, $build:path) => {
        $crate::registry::Registration {
            id: $id,
            build: |s, r| {
                let d: Box<dyn $crate::Detector> = $build(s.section($id)?, r);
                debug_assert_eq!(d.id(), $id, "a registration builds its own detector");
                Ok(d)
            },
            defaults: || $crate::registry::defaults_of($build as fn(_, &_) -> _),
        }
    };
}

/// Build every enabled detector of `registry` from `settings`. A section whose id is not in
/// the registry is an error; so is a section that does not fit its detector.
pub fn build_all(
    registry: &[Registration],
    settings: &Settings,
    res: &Resources,
) -> Result<Vec<Box<dyn Detector>>, ConfigError> {
    for id in settings.ids() {
        if !registry.iter().any(|r| r.id == id) {
            return Err(ConfigError::Unknown {
                id: id.to_string(),
                known: registry.iter().map(|r| r.id).collect::<Vec<_>>().join(", "),
            });
        }
    }
    let mut out = Vec::with_capacity(registry.len());
    for r in registry {
        // A disabled detector's section is still checked, so a typo never hides.
        let d = (r.build)(settings, res)?;
        if settings.enabled(r.id) {
            out.push(d);
        }
    }
    Ok(out)
}
