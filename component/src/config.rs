//! Typed component configuration parsed from the collector-style YAML.
//!
//! Each component declares a struct with `#[serde(deny_unknown_fields)]`;
//! [`parse_config`] turns serde's errors into the collector's wording
//! (`'rotation' has invalid keys: max_mb`) and then runs the struct's own
//! [`ComponentConfig::validate`], so that `oispd validate` reports every
//! problem of a component at once, each with its path.

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;
use std::fmt;

/// A configuration error with the `::`-joined path of where it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path segments, e.g. `["exporters", "file"]`.
    pub path: Vec<String>,
    /// What is wrong, in the collector's wording where one exists.
    pub message: String,
}

impl ConfigError {
    /// An error at `path`.
    pub fn new(path: &[&str], message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    /// The same error with `prefix` segments in front of its path.
    pub fn prefixed(mut self, prefix: &[&str]) -> ConfigError {
        let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        path.append(&mut self.path);
        self.path = path;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path.join("::"), self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// A component's typed configuration.
pub trait ComponentConfig: DeserializeOwned {
    /// Checks invariants serde cannot express. Each returned string is one
    /// problem; it may start with `'field': ` to say where.
    fn validate(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Parses a component body (`null` means "all defaults") into `T` and
/// validates it. Errors carry no path prefix; the caller adds the component's.
pub fn parse_config<T: ComponentConfig>(value: &Value) -> Result<T, Vec<ConfigError>> {
    let value = match value {
        Value::Null => Value::Mapping(Default::default()),
        other => other.clone(),
    };
    let parsed: T = match serde_path_to_error::deserialize(value) {
        Ok(v) => v,
        Err(err) => {
            let path = err.path().to_string();
            let message = describe_serde_error(&path, &err.inner().to_string());
            return Err(vec![ConfigError {
                path: Vec::new(),
                message,
            }]);
        }
    };
    let problems = parsed.validate();
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems
            .into_iter()
            .map(|message| ConfigError {
                path: Vec::new(),
                message,
            })
            .collect())
    }
}

/// Rewrites serde's messages into the collector's style.
fn describe_serde_error(path: &str, message: &str) -> String {
    // serde_path_to_error reports "." for the root.
    let path = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        // The path of an unknown-field error ends with the unknown key itself.
        let parent = match path.rsplit_once('.') {
            Some((parent, last)) if last == key => parent,
            _ if path == key => "",
            _ => path,
        };
        return format!("'{parent}' has invalid keys: {key}");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let value = rest.split('`').next().unwrap_or(rest);
        let expected = rest
            .split_once("expected ")
            .map(|(_, e)| e.to_string())
            .unwrap_or_default();
        return format!("'{path}' has invalid value {value:?}: expected {expected}");
    }
    if path.is_empty() {
        message.to_string()
    } else {
        format!("'{path}' {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Rotation {
        #[serde(default)]
        max_megabytes: u64,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct FileLike {
        path: String,
        rotation: Option<Rotation>,
        format: Format,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(rename_all = "snake_case")]
    enum Format {
        #[default]
        OispJsonl,
        OtlpJson,
    }

    impl ComponentConfig for FileLike {
        fn validate(&self) -> Vec<String> {
            if self.path.is_empty() {
                vec!["'path' must be set".into()]
            } else {
                vec![]
            }
        }
    }

    fn parse(yaml: &str) -> Result<FileLike, Vec<ConfigError>> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        parse_config(&v)
    }

    #[test]
    fn nested_unknown_key_is_reported_like_the_collector() {
        let errs = parse("path: x\nrotation: {max_mb: 3}").unwrap_err();
        assert_eq!(errs[0].to_string(), "'rotation' has invalid keys: max_mb");
    }

    #[test]
    fn top_level_unknown_key_has_empty_parent() {
        let errs = parse("path: x\npaht: y").unwrap_err();
        assert_eq!(errs[0].to_string(), "'' has invalid keys: paht");
    }

    #[test]
    fn bad_enum_value_names_the_field() {
        let errs = parse("path: x\nformat: xml").unwrap_err();
        assert!(
            errs[0]
                .to_string()
                .starts_with("'format' has invalid value \"xml\""),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn null_body_means_defaults_then_validate_runs() {
        let errs = parse("~").unwrap_err();
        assert_eq!(errs[0].to_string(), "'path' must be set");
        let ok =
            parse("path: /tmp/x\nrotation: {max_megabytes: 2}").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ok.rotation.map(|r| r.max_megabytes), Some(2));
        assert!(matches!(ok.format, Format::OispJsonl));
    }

    #[test]
    fn prefixed_error_joins_path_with_double_colons() {
        let e = ConfigError::new(&[], "boom").prefixed(&["exporters", "file/a"]);
        assert_eq!(e.to_string(), "exporters::file/a: boom");
    }
}
