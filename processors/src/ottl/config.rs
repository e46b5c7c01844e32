//! The shapes OTTL takes in component configs: a list whose items are either
//! a plain string or a group (`{context, conditions, statements, error_mode}`
//! for transform, `{error_mode, conditions}` for filter), as the collector
//! accepts them.

use super::errors::ErrorMode;
use super::record::Context;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A transform group with its own context, conditions and error mode.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StatementGroupFields {
    /// The context; inferred from path prefixes when absent.
    pub context: Option<Context>,
    /// Conditions (ORed) that gate the whole group per item.
    pub conditions: Vec<String>,
    /// Statements run in order.
    pub statements: Vec<String>,
    /// Overrides the component's `error_mode` for this group.
    pub error_mode: Option<ErrorMode>,
}

/// One item of `log_statements` / `trace_statements`.
#[derive(Clone, Debug, PartialEq)]
pub enum StatementGroup {
    /// A single statement (context inferred).
    Single(String),
    /// A group.
    Group(StatementGroupFields),
}

/// A filter group with its own error mode.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConditionGroupFields {
    /// Overrides the component's `error_mode` for these conditions.
    pub error_mode: Option<ErrorMode>,
    /// Conditions (ORed).
    pub conditions: Vec<String>,
}

/// One item of `log_conditions` / `trace_conditions`.
#[derive(Clone, Debug, PartialEq)]
pub enum ConditionGroup {
    /// A single condition (context inferred).
    Single(String),
    /// A group.
    Group(ConditionGroupFields),
}

/// Deserializes "a string or a map of `F`" into `T`.
struct StringOrMap<F, T> {
    single: fn(String) -> T,
    group: fn(F) -> T,
    expecting: &'static str,
}

impl<'de, F: Deserialize<'de>, T> Visitor<'de> for StringOrMap<F, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.single)(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok((self.single)(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let fields = F::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok((self.group)(fields))
    }
}

impl<'de> Deserialize<'de> for StatementGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrMap {
            single: StatementGroup::Single,
            group: StatementGroup::Group,
            expecting: "an OTTL statement or a {context, conditions, statements, error_mode} group",
        })
    }
}

impl<'de> Deserialize<'de> for ConditionGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrMap {
            single: ConditionGroup::Single,
            group: ConditionGroup::Group,
            expecting: "an OTTL condition or an {error_mode, conditions} group",
        })
    }
}
