//! Component ids in the collector's `type[/name]` form, with the collector's
//! validation rules and error messages.

use std::fmt;

/// A parsed `type[/name]` id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    type_name: String,
    name: Option<String>,
}

impl ComponentId {
    /// Parses `type[/name]`, returning the collector's message on error.
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        if s.trim().is_empty() {
            return Err("id must not be empty".to_string());
        }
        let (type_part, name_part) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        if type_part.is_empty() {
            return Err(format!(
                "in {s:?} id: the part before / should not be empty"
            ));
        }
        let mut chars = type_part.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok || !rest_ok || type_part.len() > 63 {
            return Err(format!("invalid character(s) in type {type_part:?}"));
        }
        let name = match name_part {
            None => None,
            Some("") => {
                return Err(format!("in {s:?} id: the part after / should not be empty"));
            }
            Some(n) => {
                let count = n.chars().count();
                if count > 1024 {
                    return Err(format!(
                        "name {n:?} is longer than 1024 characters ({count} characters)"
                    ));
                }
                if n.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("invalid character(s) in name {n:?}"));
                }
                Some(n.to_string())
            }
        };
        Ok(ComponentId {
            type_name: type_part.to_string(),
            name,
        })
    }

    /// The component type (`otlp_grpc` in `otlp_grpc/siem`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The optional instance name (`siem` in `otlp_grpc/siem`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.type_name, n),
            None => f.write_str(&self.type_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_and_name() {
        let id = ComponentId::parse("otlp_grpc/siem").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.type_name(), "otlp_grpc");
        assert_eq!(id.name(), Some("siem"));
        assert_eq!(id.to_string(), "otlp_grpc/siem");
        let plain = ComponentId::parse("file").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.name(), None);
    }

    #[test]
    fn rejects_malformed_ids_with_collector_messages() {
        assert_eq!(ComponentId::parse("").unwrap_err(), "id must not be empty");
        assert_eq!(
            ComponentId::parse("x/").unwrap_err(),
            "in \"x/\" id: the part after / should not be empty"
        );
        assert_eq!(
            ComponentId::parse("/x").unwrap_err(),
            "in \"/x\" id: the part before / should not be empty"
        );
        assert_eq!(
            ComponentId::parse("9file").unwrap_err(),
            "invalid character(s) in type \"9file\""
        );
        assert!(ComponentId::parse("file/a b").is_err());
    }
}
