//! What an AI call costs: per-model prices and the cost of a response's
//! token usage (`usage.input_cost_usd`, `output_cost_usd`, `total_cost_usd`).
//!
//! Prices are USD per 1,000 tokens, as the OISP catalogue (`models.json`:
//! `input_cost_per_1k`, `output_cost_per_1k`, `cache_read_cost_per_1k`,
//! `cache_write_cost_per_1k`, `reasoning_cost_per_1k`) and a pricing file
//! ([`PricingFile`]) write them. A pricing file's entry wins over the
//! catalogue's for the same model.
//!
//! **Cost.** Input: the uncached prompt tokens at the input price, cached
//! tokens (`cached_tokens`) at the cache-read price and cache writes
//! (`cache_creation_tokens`, Anthropic) at the cache-write price. Output:
//! the completion tokens (reasoning tokens included, as OpenAI, Anthropic
//! and Google bill them) at the output price. A cost is never guessed: when
//! tokens of a kind are present and their price is not known (cached
//! tokens without a cache-read price, cache writes without a cache-write
//! price, reasoning tokens of a model whose catalogue entry prices
//! reasoning apart), that side has no cost and neither has the total.
//!
//! **Arithmetic and rounding.** Prices are read from their shortest
//! decimal form (a JSON `0.0003125` is exactly 3125e-7, not the nearest
//! binary fraction) and multiplied by the token counts in decimal
//! (`rust_decimal`), so no binary rounding creeps into sums. Each cost is
//! then rounded to [`COST_DECIMALS`] places (a millionth of a cent is far
//! below any price step; half away from zero) and written as the nearest
//! JSON number, which reads back as that same decimal.
//!
//! **Which entry prices a model** ([`PriceTable::resolve`]): the model id
//! as the response names it; else that id without a path prefix
//! (`models/gemini-2.0-flash`, `openai/gpt-4o`); else the longest known id
//! that the model id starts with, followed by `-` and a date
//! (`YYYY-MM-DD`, `YYYYMMDD` or `MMDD`): `gpt-4o-2024-08-06` is priced as
//! `gpt-4o` when the catalogue lacks the dated id, and
//! `claude-3-5-haiku-20241022` as `claude-3-5-haiku` (not `claude-3-5`).
//! An entry must be of the call's provider (`provider.id`, else
//! `provider.name`); a call without a provider is priced only when a
//! single provider lists the model. A pricing-file entry without a
//! provider applies to every provider. Anything else has no cost.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use serde_json::{Number, Value};

use crate::ai::Usage;

/// Decimal places a cost is rounded to.
pub const COST_DECIMALS: u32 = 12;

/// Largest price per 1,000 tokens accepted (USD); anything above is a typo
/// or an attack, not a price.
const MAX_PRICE_PER_1K: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The prices of one model, USD per 1,000 tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPrice {
    /// Uncached input tokens.
    pub input_per_1k: Decimal,
    /// Output tokens.
    pub output_per_1k: Decimal,
    /// Input tokens read from the prompt cache.
    pub cache_read_per_1k: Option<Decimal>,
    /// Input tokens written to the prompt cache.
    pub cache_write_per_1k: Option<Decimal>,
    /// Reasoning tokens, when the provider bills them apart from output.
    pub reasoning_per_1k: Option<Decimal>,
}

/// The costs of one call in USD, each rounded to [`COST_DECIMALS`] places.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Costs {
    /// Input cost.
    pub input_usd: Option<Decimal>,
    /// Output cost.
    pub output_usd: Option<Decimal>,
    /// Input plus output, when both are known.
    pub total_usd: Option<Decimal>,
}

/// Error of a price or a pricing file.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The file could not be read.
    #[error("reading pricing file {path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a pricing file.
    #[error("parsing pricing file {path}: {message}")]
    Parse {
        /// The path.
        path: std::path::PathBuf,
        /// What is wrong, with its line and column.
        message: String,
    },
    /// A price is not a number from 0 to 1,000,000.
    #[error("model {model:?}: {field}: {value:?} is not a price (a number from 0 to 1000000 USD per 1,000 tokens)")]
    Price {
        /// The model.
        model: String,
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
    },
}

/// A price as a pricing file writes it: a number, or a string for an exact
/// decimal that YAML would otherwise read as a float.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PriceValue {
    /// `0.0025`.
    Number(f64),
    /// `"0.0025"`.
    Text(String),
}

impl PriceValue {
    fn decimal(&self) -> Option<Decimal> {
        match self {
            PriceValue::Number(n) => float_price(*n),
            PriceValue::Text(t) => text_price(t.trim()),
        }
    }

    fn as_written(&self) -> String {
        match self {
            PriceValue::Number(n) => n.to_string(),
            PriceValue::Text(t) => t.clone(),
        }
    }
}

/// One model's prices in a pricing file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingEntry {
    /// Model id as responses name it (`gpt-4o`, `llama3.3:70b`).
    pub model: String,
    /// Provider id (`openai`, `ollama`); absent: every provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// USD per 1,000 uncached input tokens.
    pub input_cost_per_1k: PriceValue,
    /// USD per 1,000 output tokens.
    pub output_cost_per_1k: PriceValue,
    /// USD per 1,000 input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_cost_per_1k: Option<PriceValue>,
    /// USD per 1,000 input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write_cost_per_1k: Option<PriceValue>,
}

/// A pricing file (YAML or JSON): an organisation's negotiated rates, or
/// local models at 0.
///
/// ```yaml
/// models:
///   - {model: gpt-4o, provider: openai, input_cost_per_1k: 0.002, output_cost_per_1k: 0.008, cache_read_cost_per_1k: 0.001}
///   - {model: llama3.3:70b, input_cost_per_1k: 0, output_cost_per_1k: 0}
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingFile {
    /// The prices.
    pub models: Vec<PricingEntry>,
}

impl PricingFile {
    /// Reads and parses a pricing file.
    pub fn load(path: impl AsRef<Path>) -> Result<PricingFile, PricingError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_yaml_ng::from_str(&text).map_err(|e| PricingError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

impl PricingEntry {
    /// The entry's prices, each checked.
    pub fn price(&self) -> Result<ModelPrice, PricingError> {
        let check = |field: &'static str, v: &PriceValue| {
            v.decimal().ok_or_else(|| PricingError::Price {
                model: self.model.clone(),
                field,
                value: v.as_written(),
            })
        };
        let optional = |field: &'static str, v: &Option<PriceValue>| {
            v.as_ref().map(|v| check(field, v)).transpose()
        };
        Ok(ModelPrice {
            input_per_1k: check("input_cost_per_1k", &self.input_cost_per_1k)?,
            output_per_1k: check("output_cost_per_1k", &self.output_cost_per_1k)?,
            cache_read_per_1k: optional("cache_read_cost_per_1k", &self.cache_read_cost_per_1k)?,
            cache_write_per_1k: optional("cache_write_cost_per_1k", &self.cache_write_cost_per_1k)?,
            reasoning_per_1k: None,
        })
    }
}

/// A price from its decimal text, when it is one from 0 to the maximum.
fn text_price(text: &str) -> Option<Decimal> {
    let d = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()?;
    (!d.is_sign_negative() && d <= MAX_PRICE_PER_1K).then(|| d.normalize())
}

/// A price from a float, read in its shortest decimal form (which is what
/// the JSON or YAML file wrote).
fn float_price(n: f64) -> Option<Decimal> {
    if !n.is_finite() {
        return None;
    }
    text_price(&n.to_string())
}

impl ModelPrice {
    /// The prices of a `models.json` model entry; `None` unless it has
    /// valid input and output prices.
    pub fn from_catalog_entry(m: &Value) -> Option<ModelPrice> {
        let price = |k: &str| m.get(k).and_then(Value::as_f64).and_then(float_price);
        Some(ModelPrice {
            input_per_1k: price("input_cost_per_1k")?,
            output_per_1k: price("output_cost_per_1k")?,
            cache_read_per_1k: price("cache_read_cost_per_1k"),
            cache_write_per_1k: price("cache_write_cost_per_1k"),
            reasoning_per_1k: price("reasoning_cost_per_1k"),
        })
    }

    /// The costs of `usage` at these prices (see the module doc).
    pub fn cost(&self, usage: &Usage) -> Costs {
        let input = usage.prompt_tokens.and_then(|prompt| {
            let cached = usage.cached_tokens.unwrap_or(0);
            let written = usage.cache_creation_tokens.unwrap_or(0);
            let fresh = prompt.checked_sub(cached)?.checked_sub(written)?;
            let sum = tokens_at(fresh, Some(self.input_per_1k))?
                .checked_add(tokens_at(cached, self.cache_read_per_1k)?)?
                .checked_add(tokens_at(written, self.cache_write_per_1k)?)?;
            Some(sum)
        });
        let output = usage.completion_tokens.and_then(|completion| {
            let reasoning = usage.reasoning_tokens.unwrap_or(0);
            let priced_apart = self
                .reasoning_per_1k
                .is_some_and(|r| r != self.output_per_1k);
            if reasoning > 0 && priced_apart {
                return None;
            }
            tokens_at(completion, Some(self.output_per_1k))
        });
        let total = match (input, output) {
            (Some(i), Some(o)) => i.checked_add(o),
            _ => None,
        };
        Costs {
            input_usd: input.map(rounded),
            output_usd: output.map(rounded),
            total_usd: total.map(rounded),
        }
    }
}

/// The cost of `tokens` at `per_1k`: zero tokens cost nothing whatever the
/// price, other counts need a price.
fn tokens_at(tokens: u64, per_1k: Option<Decimal>) -> Option<Decimal> {
    if tokens == 0 {
        return Some(Decimal::ZERO);
    }
    Decimal::from(tokens)
        .checked_mul(per_1k?)?
        .checked_div(Decimal::ONE_THOUSAND)
}

fn rounded(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(COST_DECIMALS, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// The JSON number of a cost: the float nearest to the decimal, which
/// prints back as the same decimal.
pub fn cost_number(d: Decimal) -> Option<Number> {
    d.to_string().parse::<f64>().ok().and_then(Number::from_f64)
}

impl Costs {
    /// Writes the known costs into `usage`'s cost fields (and clears the
    /// unknown ones, so a stale cost never survives).
    pub fn write_to(&self, usage: &mut Usage) {
        usage.input_cost_usd = self.input_usd.and_then(cost_number);
        usage.output_cost_usd = self.output_usd.and_then(cost_number);
        usage.total_cost_usd = self.total_usd.and_then(cost_number);
    }
}

/// Prices by model id: the catalogue's, per provider, and the pricing
/// file's, which win.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    catalog: HashMap<String, Vec<(String, ModelPrice)>>,
    overrides: HashMap<String, Vec<(Option<String>, ModelPrice)>>,
}

impl PriceTable {
    /// Adds a catalogue price of `model` offered by `provider`.
    pub fn add_catalog(&mut self, provider: &str, model: &str, price: ModelPrice) {
        let list = self.catalog.entry(model.to_string()).or_default();
        match list.iter_mut().find(|(p, _)| p == provider) {
            Some(slot) => slot.1 = price,
            None => list.push((provider.to_string(), price)),
        }
    }

    /// Adds every entry of a pricing file; they win over the catalogue's.
    pub fn add_file(&mut self, file: &PricingFile) -> Result<(), PricingError> {
        for entry in &file.models {
            let price = entry.price()?;
            let list = self.overrides.entry(entry.model.clone()).or_default();
            match list.iter_mut().find(|(p, _)| *p == entry.provider) {
                Some(slot) => slot.1 = price,
                None => list.push((entry.provider.clone(), price)),
            }
        }
        Ok(())
    }

    /// The price of exactly `model_id` for `provider`.
    fn exact(&self, provider: Option<&str>, model_id: &str) -> Option<&ModelPrice> {
        let overridden = self.overrides.get(model_id).and_then(|list| {
            let specific = provider.and_then(|p| {
                list.iter()
                    .find(|(lp, _)| lp.as_deref() == Some(p))
                    .map(|(_, price)| price)
            });
            specific.or_else(|| {
                list.iter()
                    .find(|(lp, _)| lp.is_none())
                    .map(|(_, price)| price)
            })
        });
        overridden.or_else(|| {
            let list = self.catalog.get(model_id)?;
            match provider {
                Some(p) => list.iter().find(|(lp, _)| lp == p).map(|(_, price)| price),
                None if list.len() == 1 => list.first().map(|(_, price)| price),
                None => None,
            }
        })
    }

    /// The price of `model` called through `provider` (see the module doc
    /// for the rule), and the id it was found under.
    pub fn resolve<'a>(
        &'a self,
        provider: Option<&str>,
        model: &'a str,
    ) -> Option<(&'a str, &'a ModelPrice)> {
        if let Some(p) = self.exact(provider, model) {
            return Some((model, p));
        }
        let bare = model.rsplit('/').next().unwrap_or(model);
        if bare != model {
            if let Some(p) = self.exact(provider, bare) {
                return Some((bare, p));
            }
        }
        bare.char_indices()
            .rev()
            .filter(|(_, c)| *c == '-')
            .filter(|(i, _)| is_date_suffix(&bare[i + 1..]))
            .find_map(|(i, _)| {
                let base = &bare[..i];
                self.exact(provider, base).map(|p| (base, p))
            })
    }

    /// Fills the cost fields of `usage` for a call of `model` through
    /// `provider`; an unpriced model gets no cost (stale costs are cleared).
    pub fn price_usage(&self, provider: Option<&str>, model: Option<&str>, usage: &mut Usage) {
        let costs = model
            .and_then(|m| self.resolve(provider, m))
            .map(|(_, price)| price.cost(usage))
            .unwrap_or_default();
        costs.write_to(usage);
    }
}

/// `YYYY-MM-DD`, `YYYYMMDD` or `MMDD`, with a month 01-12 and a day 01-31.
fn is_date_suffix(s: &str) -> bool {
    fn number(s: &str) -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    }
    let month_day = |m: &str, d: &str| {
        number(m).is_some_and(|m| (1..=12).contains(&m))
            && number(d).is_some_and(|d| (1..=31).contains(&d))
    };
    if !s.is_ascii() {
        return false;
    }
    let b = s.as_bytes();
    match b.len() {
        10 if b[4] == b'-' && b[7] == b'-' => {
            number(&s[..4]).is_some() && month_day(&s[5..7], &s[8..])
        }
        8 => number(&s[..4]).is_some() && month_day(&s[4..6], &s[6..]),
        4 => month_day(&s[..2], &s[2..]),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
