//! The provider catalogue: which AI provider a connection talks to, from
//! its host (the `Host` header, `:authority` or SNI) and port.
//!
//! [`ProviderCatalog::builtin`] is the table the binary carries: the major
//! cloud APIs (OpenAI, Azure OpenAI, Anthropic, Google Gemini and Vertex AI,
//! AWS Bedrock, Mistral, Cohere, Groq, Together, Fireworks, DeepSeek, xAI,
//! OpenRouter, Perplexity) and the local inference servers (Ollama on port
//! 11434, vLLM on 8000, LM Studio on 1234). [`ProviderCatalog::load_models_json`]
//! merges the official OISP catalogue (`semconv/providers/_generated/models.json`:
//! `providers`, `domain_lookup`, regex `domain_patterns`, `models`) over it.
//!
//! Detection order: exact `host:port`, exact host, regex patterns (the
//! loaded catalogue's first), then local-server ports. Port 11434 means
//! Ollama on any host; 8000 (vLLM) and 1234 (LM Studio) only on a loopback
//! host, as those ports are common for other servers.
//!
//! The catalogue's model prices, with a pricing file's merged over them
//! ([`ProviderCatalog::merge_pricing_file`]), price responses (see
//! [`crate::pricing`]).
//!
//! [`model_family`] derives a model family from a model id by dropping
//! vendor prefixes, tags, dates, versions and size tiers.

use crate::ai::ProviderInfo;
use crate::pricing::{ModelPrice, PriceTable, PricingError, PricingFile};
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The wire API a provider speaks, which decides how bodies are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiStyle {
    /// OpenAI Chat Completions / Responses / Embeddings, or a compatible API.
    OpenAiCompatible,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent` (also Vertex AI).
    Gemini,
    /// AWS Bedrock `InvokeModel` / `Converse`.
    Bedrock,
    /// Cohere Chat.
    Cohere,
    /// Ollama's native API (`/api/chat`, `/api/generate`).
    Ollama,
}

impl ApiStyle {
    /// The style of a models.json `api_format` (`openai`, `anthropic`,
    /// `google`, `bedrock`, `cohere`); unknown formats are OpenAI-compatible.
    pub fn from_api_format(format: &str) -> ApiStyle {
        match format {
            "anthropic" => ApiStyle::Anthropic,
            "google" => ApiStyle::Gemini,
            "bedrock" => ApiStyle::Bedrock,
            "cohere" => ApiStyle::Cohere,
            "ollama" => ApiStyle::Ollama,
            _ => ApiStyle::OpenAiCompatible,
        }
    }
}

/// A detected provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderMatch {
    /// Catalogue id (`openai`, `azure_openai`, `google_vertex`, `deepseek`).
    pub id: String,
    /// Display name (`Azure OpenAI`).
    pub name: String,
    /// API style.
    pub api_style: ApiStyle,
    /// A self-hosted inference server (Ollama, vLLM, LM Studio) rather than
    /// a cloud API.
    pub local: bool,
}

/// The provider names the OISP v0.1 schema allows in `provider.name`.
const OISP_PROVIDER_NAMES: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "azure_openai",
    "aws_bedrock",
    "cohere",
    "mistral",
    "groq",
    "together",
    "fireworks",
    "replicate",
    "huggingface",
    "ollama",
    "lmstudio",
    "vllm",
];

impl ProviderMatch {
    /// The value for OISP `provider.name`, which the schema restricts to
    /// an enum: the id when it is one of them, the family's value for
    /// variants (`google_vertex` -> `google`, `togetherai` -> `together`),
    /// else `other`.
    pub fn oisp_name(&self) -> &str {
        match self.id.as_str() {
            id if OISP_PROVIDER_NAMES.contains(&id) => id,
            "google_vertex" | "google_vertex_anthropic" => "google",
            "azure_cognitive_services" => "azure_openai",
            "togetherai" => "together",
            _ => "other",
        }
    }

    /// The OISP `provider` object of this provider: `name` is
    /// [`ProviderMatch::oisp_name`], and `id` carries the catalogue id when
    /// it differs (so `deepseek` stays visible behind `other`).
    pub fn provider_info(&self, endpoint: Option<String>) -> ProviderInfo {
        let name = self.oisp_name();
        ProviderInfo {
            id: (name != self.id).then(|| self.id.clone()),
            name: Some(name.to_string()),
            endpoint,
            ..Default::default()
        }
    }
}

/// A model of the loaded catalogue (models.json `models`).
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogModel {
    /// Model id (`gpt-4o`).
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// Display name.
    pub name: Option<String>,
    /// The catalogue's family (`claude-sonnet`).
    pub family: Option<String>,
    /// Mode (`chat`, `embedding`, `image`, ...).
    pub mode: Option<String>,
    /// Context window in tokens.
    pub max_input_tokens: Option<u64>,
    /// Maximum output tokens.
    pub max_output_tokens: Option<u64>,
    /// Capabilities (`function_calling`, `vision`, `reasoning`, ...).
    pub capabilities: Vec<String>,
}

/// Error of loading a catalogue file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("reading provider catalogue {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("parsing provider catalogue {path}: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The JSON is not in the models.json format.
    #[error("provider catalogue: {0}")]
    Format(String),
    /// A domain pattern is not a valid regex.
    #[error("provider catalogue: domain pattern {pattern:?}: {source}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The cause.
        source: regex::Error,
    },
}

#[derive(Clone, Debug)]
struct ProviderDef {
    name: String,
    api_style: ApiStyle,
}

/// The provider table: hosts, patterns and local ports to providers.
#[derive(Clone, Debug)]
pub struct ProviderCatalog {
    providers: HashMap<String, ProviderDef>,
    hosts: HashMap<String, String>,
    patterns: Vec<(Regex, String)>,
    models: HashMap<String, Vec<CatalogModel>>,
    prices: PriceTable,
}

/// Built-in providers: (id, name, style, exact hosts).
const BUILTIN: &[(&str, &str, ApiStyle, &[&str])] = &[
    (
        "openai",
        "OpenAI",
        ApiStyle::OpenAiCompatible,
        &["api.openai.com"],
    ),
    (
        "azure_openai",
        "Azure OpenAI",
        ApiStyle::OpenAiCompatible,
        &[],
    ),
    (
        "anthropic",
        "Anthropic",
        ApiStyle::Anthropic,
        &["api.anthropic.com"],
    ),
    (
        "google",
        "Google Gemini",
        ApiStyle::Gemini,
        &["generativelanguage.googleapis.com"],
    ),
    (
        "google_vertex",
        "Google Vertex AI",
        ApiStyle::Gemini,
        &["aiplatform.googleapis.com"],
    ),
    ("aws_bedrock", "AWS Bedrock", ApiStyle::Bedrock, &[]),
    (
        "mistral",
        "Mistral AI",
        ApiStyle::OpenAiCompatible,
        &["api.mistral.ai", "codestral.mistral.ai"],
    ),
    (
        "cohere",
        "Cohere",
        ApiStyle::Cohere,
        &["api.cohere.ai", "api.cohere.com"],
    ),
    (
        "groq",
        "Groq",
        ApiStyle::OpenAiCompatible,
        &["api.groq.com"],
    ),
    (
        "together",
        "Together AI",
        ApiStyle::OpenAiCompatible,
        &["api.together.xyz", "api.together.ai"],
    ),
    (
        "fireworks",
        "Fireworks AI",
        ApiStyle::OpenAiCompatible,
        &["api.fireworks.ai"],
    ),
    (
        "deepseek",
        "DeepSeek",
        ApiStyle::OpenAiCompatible,
        &["api.deepseek.com"],
    ),
    ("xai", "xAI", ApiStyle::OpenAiCompatible, &["api.x.ai"]),
    (
        "openrouter",
        "OpenRouter",
        ApiStyle::OpenAiCompatible,
        &["openrouter.ai"],
    ),
    (
        "perplexity",
        "Perplexity",
        ApiStyle::OpenAiCompatible,
        &["api.perplexity.ai"],
    ),
    ("ollama", "Ollama", ApiStyle::Ollama, &["ollama.com"]),
    ("vllm", "vLLM", ApiStyle::OpenAiCompatible, &[]),
    ("lmstudio", "LM Studio", ApiStyle::OpenAiCompatible, &[]),
];

/// Built-in host patterns (anchored), after the loaded catalogue's.
const BUILTIN_PATTERNS: &[(&str, &str)] = &[
    (r"^[a-z0-9-]+\.openai\.azure\.com$", "azure_openai"),
    (
        r"^[a-z0-9-]+\.cognitiveservices\.azure\.com$",
        "azure_openai",
    ),
    (r"^[a-z0-9-]+\.services\.ai\.azure\.com$", "azure_openai"),
    (r"^[a-z0-9-]+-aiplatform\.googleapis\.com$", "google_vertex"),
    (
        r"^bedrock-(agent-)?runtime(-fips)?\.[a-z0-9-]+\.amazonaws\.com$",
        "aws_bedrock",
    ),
    (
        r"^bedrock(-fips)?\.[a-z0-9-]+\.amazonaws\.com$",
        "aws_bedrock",
    ),
];

/// Local inference servers: (port, id, on any host).
const LOCAL_PORTS: &[(u16, &str, bool)] = &[
    (11434, "ollama", true),
    (8000, "vllm", false),
    (1234, "lmstudio", false),
];

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// Lower-cases a host, drops a trailing dot and IPv6 brackets, and splits
/// off a `:port` suffix.
fn normalize(host: &str) -> (String, Option<u16>) {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            return (
                ip.to_string(),
                after.strip_prefix(':').and_then(|p| p.parse().ok()),
            );
        }
    }
    match h.rsplit_once(':') {
        // One colon only: `host:port` (several colons is a bare IPv6 address).
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(p) => (name.trim_end_matches('.').to_string(), Some(p)),
            Err(_) => (h, None),
        },
        _ => (h, None),
    }
}

impl ProviderCatalog {
    /// The built-in table.
    pub fn builtin() -> ProviderCatalog {
        let mut providers = HashMap::new();
        let mut hosts = HashMap::new();
        for (id, name, style, hs) in BUILTIN {
            providers.insert(
                id.to_string(),
                ProviderDef {
                    name: name.to_string(),
                    api_style: *style,
                },
            );
            for h in *hs {
                hosts.insert(h.to_string(), id.to_string());
            }
        }
        let patterns = BUILTIN_PATTERNS
            .iter()
            .filter_map(|(p, id)| Regex::new(p).ok().map(|r| (r, id.to_string())))
            .collect();
        ProviderCatalog {
            providers,
            hosts,
            patterns,
            models: HashMap::new(),
            prices: PriceTable::default(),
        }
    }

    /// The built-in table with the official catalogue file (models.json
    /// format) merged over it.
    pub fn load_models_json(path: impl AsRef<Path>) -> Result<ProviderCatalog, CatalogError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|source| CatalogError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let mut catalog = ProviderCatalog::builtin();
        catalog.merge_models_json(&v)?;
        Ok(catalog)
    }

    /// Merges a catalogue in the models.json format: its `domain_lookup`
    /// entries override built-in hosts, its `domain_patterns` are tried
    /// before the built-in ones, its `providers` add names and API styles
    /// for ids the built-in table lacks, and its `models` become available
    /// to [`ProviderCatalog::model`] and, with their prices, to
    /// [`ProviderCatalog::prices`].
    pub fn merge_models_json(&mut self, v: &Value) -> Result<(), CatalogError> {
        let obj = v
            .as_object()
            .ok_or_else(|| CatalogError::Format("the top level is not an object".into()))?;
        if !(obj.contains_key("domain_lookup") || obj.contains_key("providers")) {
            return Err(CatalogError::Format(
                "neither \"domain_lookup\" nor \"providers\": not a models.json catalogue".into(),
            ));
        }
        if let Some(providers) = obj.get("providers") {
            let providers = providers
                .as_object()
                .ok_or_else(|| CatalogError::Format("\"providers\" is not an object".into()))?;
            for (id, p) in providers {
                if self.providers.contains_key(id) {
                    continue;
                }
                let name = p.get("name").and_then(Value::as_str).unwrap_or(id);
                let style = p
                    .get("api_format")
                    .and_then(Value::as_str)
                    .map_or(ApiStyle::OpenAiCompatible, ApiStyle::from_api_format);
                self.providers.insert(
                    id.clone(),
                    ProviderDef {
                        name: name.to_string(),
                        api_style: style,
                    },
                );
            }
        }
        if let Some(lookup) = obj.get("domain_lookup") {
            let lookup = lookup
                .as_object()
                .ok_or_else(|| CatalogError::Format("\"domain_lookup\" is not an object".into()))?;
            for (host, id) in lookup {
                let id = id.as_str().ok_or_else(|| {
                    CatalogError::Format(format!("domain_lookup[{host:?}] is not a string"))
                })?;
                let (h, port) = normalize(host);
                let key = match port {
                    Some(p) => format!("{h}:{p}"),
                    None => h,
                };
                self.hosts.insert(key, id.to_string());
            }
        }
        if let Some(patterns) = obj.get("domain_patterns") {
            let patterns = patterns.as_array().ok_or_else(|| {
                CatalogError::Format("\"domain_patterns\" is not an array".into())
            })?;
            let mut loaded = Vec::with_capacity(patterns.len());
            for p in patterns {
                let (Some(pattern), Some(id)) = (
                    p.get("pattern").and_then(Value::as_str),
                    p.get("provider").and_then(Value::as_str),
                ) else {
                    return Err(CatalogError::Format(format!(
                        "domain pattern {p} lacks \"pattern\" or \"provider\""
                    )));
                };
                let re = Regex::new(pattern).map_err(|source| CatalogError::Pattern {
                    pattern: pattern.to_string(),
                    source,
                })?;
                loaded.push((re, id.to_string()));
            }
            loaded.append(&mut self.patterns);
            self.patterns = loaded;
        }
        if let Some(models) = obj.get("models").and_then(Value::as_object) {
            for m in models.values() {
                if let Some(model) = catalog_model(m) {
                    if let Some(price) = ModelPrice::from_catalog_entry(m) {
                        self.prices.add_catalog(&model.provider, &model.id, price);
                    }
                    self.models.entry(model.id.clone()).or_default().push(model);
                }
            }
        }
        Ok(())
    }

    /// The provider at `host` (a host name or address, optionally with
    /// `:port`) and `port` (which wins over a port in `host`).
    pub fn detect(&self, host: &str, port: Option<u16>) -> Option<ProviderMatch> {
        let (h, host_port) = normalize(host);
        let port = port.or(host_port);
        let loopback = is_loopback(&h);
        if let Some(p) = port {
            if let Some(id) = self.hosts.get(&format!("{h}:{p}")) {
                return Some(self.matched(id, loopback));
            }
            if loopback {
                // The catalogue writes local servers as `127.0.0.1:PORT`.
                let alias = format!("127.0.0.1:{p}");
                if let Some(id) = self.hosts.get(&alias) {
                    return Some(self.matched(id, true));
                }
            }
        }
        if let Some(id) = self.hosts.get(&h) {
            return Some(self.matched(id, false));
        }
        if let Some((_, id)) = self.patterns.iter().find(|(re, _)| re.is_match(&h)) {
            return Some(self.matched(id, false));
        }
        let p = port?;
        LOCAL_PORTS
            .iter()
            .find(|(lp, _, any_host)| *lp == p && (*any_host || loopback))
            .map(|(_, id, _)| self.matched(id, true))
    }

    fn matched(&self, id: &str, local: bool) -> ProviderMatch {
        let local = local
            || LOCAL_PORTS
                .iter()
                .any(|(_, lid, _)| *lid == id && id != "ollama");
        match self.providers.get(id) {
            Some(def) => ProviderMatch {
                id: id.to_string(),
                name: def.name.clone(),
                api_style: def.api_style,
                local,
            },
            None => ProviderMatch {
                id: id.to_string(),
                name: id.to_string(),
                api_style: ApiStyle::OpenAiCompatible,
                local,
            },
        }
    }

    /// A model of the loaded catalogue by id, preferring the entry of
    /// `provider` when several providers list the same id.
    pub fn model(&self, provider: Option<&str>, model_id: &str) -> Option<&CatalogModel> {
        let list = self.models.get(model_id)?;
        provider
            .and_then(|p| list.iter().find(|m| m.provider == p))
            .or_else(|| list.first())
    }

    /// Merges a pricing file ([`PricingFile`]): its prices win over the
    /// catalogue's.
    pub fn merge_pricing_file(&mut self, path: impl AsRef<Path>) -> Result<(), PricingError> {
        self.prices.add_file(&PricingFile::load(path)?)
    }

    /// The model prices: the loaded catalogue's and the pricing file's.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Number of known providers.
    pub fn provider_count(&self) -> usize {
        self.providers.len()
    }
}

impl Default for ProviderCatalog {
    fn default() -> Self {
        ProviderCatalog::builtin()
    }
}

fn catalog_model(m: &Value) -> Option<CatalogModel> {
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    Some(CatalogModel {
        id: s("id")?,
        provider: s("provider")?,
        name: s("name"),
        family: s("family"),
        mode: s("mode"),
        max_input_tokens: m.get("max_input_tokens").and_then(Value::as_u64),
        max_output_tokens: m.get("max_output_tokens").and_then(Value::as_u64),
        capabilities: m
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// True for a trailing id segment that marks a snapshot rather than a model:
/// dates (`20241022`, `0613`), numbered revisions (`002`), `vN`, `latest`,
/// `preview`, `exp`, `beta`, `alpha`.
fn is_version_segment(s: &str) -> bool {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits && s.len() >= 3)
        || matches!(s, "latest" | "preview" | "exp" | "beta" | "alpha")
        || s.strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The family of a model id: the id without a path or vendor prefix
/// (`openai/`, `us.anthropic.`), an Ollama or Bedrock tag (`:70b`, `:0`),
/// trailing snapshot segments (dates, `v2`, `latest`, `preview`) and one
/// size tier (`mini`, `nano`, `lite`, `turbo`):
/// `gpt-4o-mini` -> `gpt-4o`, `gpt-4o-2024-11-20` -> `gpt-4o`,
/// `claude-3-5-sonnet-20241022` -> `claude-3-5-sonnet`,
/// `anthropic.claude-3-5-sonnet-20241022-v2:0` -> `claude-3-5-sonnet`,
/// `gemini-1.5-pro-002` -> `gemini-1.5-pro`, `llama3.3:70b` -> `llama3.3`.
pub fn model_family(model_id: &str) -> String {
    let lower = model_id.trim().to_ascii_lowercase();
    let mut id = lower.rsplit('/').next().unwrap_or(&lower);
    id = id.split(':').next().unwrap_or(id);
    while let Some((prefix, rest)) = id.split_once('.') {
        if !rest.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase()) {
            id = rest;
        } else {
            break;
        }
    }
    let mut segs: Vec<&str> = id.split('-').collect();
    let strip_versions = |segs: &mut Vec<&str>| {
        while segs.len() > 1 && segs.last().is_some_and(|s| is_version_segment(s)) {
            segs.pop();
        }
        // `-2024-11-20`: a year followed by month and day.
        if segs.len() > 3 {
            let n = segs.len();
            let two = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
            if segs[n - 3].len() == 4 && two(segs[n - 2]) && two(segs[n - 1]) {
                segs.truncate(n - 3);
            }
        }
        while segs.len() > 1 && segs.last().is_some_and(|s| is_version_segment(s)) {
            segs.pop();
        }
    };
    strip_versions(&mut segs);
    if segs.len() > 1
        && segs
            .last()
            .is_some_and(|s| matches!(*s, "mini" | "nano" | "lite" | "turbo"))
    {
        segs.pop();
        strip_versions(&mut segs);
    }
    segs.join("-")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn id(c: &ProviderCatalog, host: &str, port: Option<u16>) -> Option<String> {
        c.detect(host, port).map(|m| m.id)
    }

    /// Scenario: the real hostname of every built-in cloud provider.
    /// Guarantees: each maps to its provider and API style, not local.
    #[test]
    fn builtin_hosts() {
        let c = ProviderCatalog::builtin();
        for (host, want, style) in [
            ("api.openai.com", "openai", ApiStyle::OpenAiCompatible),
            ("api.anthropic.com", "anthropic", ApiStyle::Anthropic),
            (
                "generativelanguage.googleapis.com",
                "google",
                ApiStyle::Gemini,
            ),
            (
                "aiplatform.googleapis.com",
                "google_vertex",
                ApiStyle::Gemini,
            ),
            ("api.mistral.ai", "mistral", ApiStyle::OpenAiCompatible),
            ("api.cohere.com", "cohere", ApiStyle::Cohere),
            ("api.cohere.ai", "cohere", ApiStyle::Cohere),
            ("api.groq.com", "groq", ApiStyle::OpenAiCompatible),
            ("api.together.xyz", "together", ApiStyle::OpenAiCompatible),
            ("api.fireworks.ai", "fireworks", ApiStyle::OpenAiCompatible),
            ("api.deepseek.com", "deepseek", ApiStyle::OpenAiCompatible),
            ("api.x.ai", "xai", ApiStyle::OpenAiCompatible),
            ("openrouter.ai", "openrouter", ApiStyle::OpenAiCompatible),
            (
                "api.perplexity.ai",
                "perplexity",
                ApiStyle::OpenAiCompatible,
            ),
        ] {
            let m = c
                .detect(host, Some(443))
                .unwrap_or_else(|| panic!("{host}"));
            assert_eq!(
                (m.id.as_str(), m.api_style, m.local),
                (want, style, false),
                "{host}"
            );
        }
        assert_eq!(id(&c, "API.OpenAI.com.", None).as_deref(), Some("openai"));
        assert_eq!(
            id(&c, "api.openai.com:443", None).as_deref(),
            Some("openai")
        );
        assert_eq!(id(&c, "example.com", Some(443)), None);
        assert_eq!(id(&c, "openai.com.evil.test", None), None);
    }

    /// Scenario: Azure, Vertex and Bedrock regional hosts.
    /// Guarantees: the patterns match them and nothing around them.
    #[test]
    fn builtin_patterns() {
        let c = ProviderCatalog::builtin();
        for (host, want) in [
            ("my-res.openai.azure.com", "azure_openai"),
            ("my-res.cognitiveservices.azure.com", "azure_openai"),
            ("proj.services.ai.azure.com", "azure_openai"),
            ("us-central1-aiplatform.googleapis.com", "google_vertex"),
            ("bedrock-runtime.us-east-1.amazonaws.com", "aws_bedrock"),
            (
                "bedrock-runtime-fips.us-west-2.amazonaws.com",
                "aws_bedrock",
            ),
            ("bedrock.eu-west-1.amazonaws.com", "aws_bedrock"),
        ] {
            assert_eq!(id(&c, host, Some(443)).as_deref(), Some(want), "{host}");
        }
        for host in [
            "openai.azure.com.evil.test",
            "s3.us-east-1.amazonaws.com",
            "x.azure.com",
        ] {
            assert_eq!(id(&c, host, Some(443)), None, "{host}");
        }
        let m = c
            .detect("bedrock-runtime.us-east-1.amazonaws.com", None)
            .unwrap();
        assert_eq!(m.api_style, ApiStyle::Bedrock);
    }

    /// Scenario: local inference servers on their default ports.
    /// Guarantees: port-aware detection, local flag, loopback-only for 8000/1234.
    #[test]
    fn local_servers_by_port() {
        let c = ProviderCatalog::builtin();
        let m = c.detect("localhost", Some(11434)).unwrap();
        assert_eq!(
            (m.id.as_str(), m.api_style, m.local),
            ("ollama", ApiStyle::Ollama, true)
        );
        assert_eq!(id(&c, "localhost:11434", None).as_deref(), Some("ollama"));
        assert_eq!(
            id(&c, "gpu-box.lan", Some(11434)).as_deref(),
            Some("ollama")
        );
        assert_eq!(id(&c, "127.0.0.1", Some(8000)).as_deref(), Some("vllm"));
        assert_eq!(id(&c, "[::1]:1234", None).as_deref(), Some("lmstudio"));
        assert!(c.detect("127.0.0.1", Some(1234)).unwrap().local);
        assert_eq!(id(&c, "intranet.example", Some(8000)), None);
        assert_eq!(id(&c, "localhost", Some(9999)), None);
        assert_eq!(id(&c, "localhost", None), None);
        let cloud = c.detect("ollama.com", Some(443)).unwrap();
        assert_eq!((cloud.id.as_str(), cloud.local), ("ollama", false));
    }

    /// Scenario: the official models.json is loaded.
    /// Guarantees: its hosts and patterns work, built-ins stay, models are known.
    #[test]
    fn loads_the_official_catalogue() {
        let path = crate::test_support::spec_dir().join("semconv/providers/_generated/models.json");
        let c = ProviderCatalog::load_models_json(&path).unwrap();
        assert!(c.provider_count() >= 75, "{}", c.provider_count());
        assert_eq!(id(&c, "api.cerebras.ai", None).as_deref(), Some("cerebras"));
        assert_eq!(c.detect("api.cerebras.ai", None).unwrap().name, "Cerebras");
        assert_eq!(
            id(&c, "api.moonshot.ai", Some(443)).as_deref(),
            Some("moonshotai")
        );
        assert_eq!(
            id(&c, "x.openai.azure.com", None).as_deref(),
            Some("azure_openai")
        );
        assert_eq!(
            id(&c, "bedrock-runtime.ap-south-1.amazonaws.com", None).as_deref(),
            Some("aws_bedrock")
        );
        assert_eq!(
            id(&c, "api.openai.com", Some(443)).as_deref(),
            Some("openai")
        );
        assert_eq!(
            id(&c, "api.together.xyz", None).as_deref(),
            Some("together")
        );
        assert_eq!(id(&c, "localhost", Some(1234)).as_deref(), Some("lmstudio"));
        assert_eq!(id(&c, "localhost", Some(11434)).as_deref(), Some("ollama"));
        let m = c.model(Some("openai"), "gpt-4o-mini").unwrap();
        assert_eq!(m.mode.as_deref(), Some("chat"));
        assert!(m.max_input_tokens.unwrap() >= 128_000);
        assert!(c.model(None, "no-such-model").is_none());
    }

    /// Scenario: broken catalogue files.
    /// Guarantees: each is an error that says what is wrong, never a panic.
    #[test]
    fn bad_catalogues_are_errors() {
        let mut c = ProviderCatalog::builtin();
        let err = c.merge_models_json(&serde_json::json!([1])).unwrap_err();
        assert!(err.to_string().contains("not an object"), "{err}");
        let err = c
            .merge_models_json(&serde_json::json!({"domain_patterns": [{"pattern": "(", "provider": "x"}], "providers": {}}))
            .unwrap_err();
        assert!(err.to_string().contains("\"(\""), "{err}");
        let err = ProviderCatalog::load_models_json("/nonexistent/models.json").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/models.json"),
            "{err}"
        );
    }

    /// Scenario: providers outside the OISP schema's enum.
    /// Guarantees: `provider.name` is schema-valid and the id is kept.
    #[test]
    fn oisp_names_stay_in_the_schema_enum() {
        let c = ProviderCatalog::builtin();
        let ds = c.detect("api.deepseek.com", None).unwrap();
        assert_eq!(ds.oisp_name(), "other");
        let info = ds.provider_info(Some("https://api.deepseek.com/chat/completions".into()));
        assert_eq!(info.name.as_deref(), Some("other"));
        assert_eq!(info.id.as_deref(), Some("deepseek"));
        assert_eq!(info.provider_id(), Some("deepseek"));
        let oa = c
            .detect("api.openai.com", None)
            .unwrap()
            .provider_info(None);
        assert_eq!((oa.name.as_deref(), oa.id), (Some("openai"), None));
        assert_eq!(
            c.detect("x-aiplatform.googleapis.com", None)
                .unwrap()
                .oisp_name(),
            "google"
        );
    }

    /// Scenario: model ids of many providers.
    /// Guarantees: the family drops snapshots, tags, prefixes and size tiers only.
    #[test]
    fn model_families() {
        for (model, family) in [
            ("gpt-4o-mini", "gpt-4o"),
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o-2024-11-20", "gpt-4o"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o"),
            ("gpt-4-0613", "gpt-4"),
            ("gpt-4-turbo-preview", "gpt-4"),
            ("gpt-4.1-mini", "gpt-4.1"),
            ("o1-mini", "o1"),
            ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
            ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            (
                "anthropic.claude-3-5-sonnet-20241022-v2:0",
                "claude-3-5-sonnet",
            ),
            (
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                "claude-3-7-sonnet",
            ),
            ("gemini-1.5-pro-002", "gemini-1.5-pro"),
            ("gemini-2.5-flash-lite", "gemini-2.5-flash"),
            ("models/gemini-2.0-flash", "gemini-2.0-flash"),
            ("llama3.3:70b", "llama3.3"),
            (
                "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "llama-3.3-70b-instruct",
            ),
            ("text-embedding-3-small", "text-embedding-3-small"),
            ("deepseek-chat", "deepseek-chat"),
            ("mini", "mini"),
        ] {
            assert_eq!(model_family(model), family, "{model}");
        }
    }
}
