//! Tests of pricing: costs from the official catalogue, resolution of
//! dated ids, pricing files, rounding and hostile input.

use super::*;
use crate::providers::ProviderCatalog;
use std::io::Write;

fn official() -> ProviderCatalog {
    let path = crate::test_support::spec_dir().join("semconv/providers/_generated/models.json");
    ProviderCatalog::load_models_json(path).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn usage(prompt: u64, cached: u64, written: u64, completion: u64, reasoning: u64) -> Usage {
    let some = |n: u64| (n > 0).then_some(n);
    Usage {
        prompt_tokens: Some(prompt),
        completion_tokens: Some(completion),
        total_tokens: Some(prompt + completion),
        cached_tokens: some(cached),
        cache_creation_tokens: some(written),
        reasoning_tokens: some(reasoning),
        ..Usage::default()
    }
}

/// (input, output, total) as decimal text, `None` for no cost.
type Want = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

fn costs_text(c: &Costs) -> (Option<String>, Option<String>, Option<String>) {
    let t = |d: &Option<Decimal>| d.map(|d| d.to_string());
    (t(&c.input_usd), t(&c.output_usd), t(&c.total_usd))
}

/// Scenario: responses of OpenAI, Anthropic (cache reads and writes),
/// Gemini and unknown models, priced from the official models.json.
/// Guarantees: the exact decimal cost of each, cached input at the
/// cache-read price, cache writes at the cache-write price, dated ids at
/// their undated entry, and no cost where the catalogue has no price.
#[test]
fn costs_from_the_official_catalogue() {
    let c = official();
    let cases: &[(&str, Option<&str>, &str, Usage, Want)] = &[
        (
            "openai: 800 fresh + 200 cached in, 500 out",
            Some("openai"),
            "gpt-4o",
            usage(1000, 200, 0, 500, 0),
            (Some("0.00225"), Some("0.005"), Some("0.00725")),
        ),
        (
            "openai: a dated id absent from the catalogue",
            Some("openai"),
            "gpt-4o-mini-2024-07-18",
            usage(1234, 0, 0, 56, 0),
            (Some("0.0001851"), Some("0.0000336"), Some("0.0002187")),
        ),
        (
            "openai: reasoning tokens are output tokens",
            Some("openai"),
            "o3-mini",
            usage(100, 0, 0, 1000, 800),
            (Some("0.00011"), Some("0.0044"), Some("0.00451")),
        ),
        (
            "anthropic: 100 fresh, 2000 cache reads, 500 cache writes",
            Some("anthropic"),
            "claude-sonnet-4-5-20250929",
            usage(2600, 2000, 500, 300, 0),
            (Some("0.002775"), Some("0.0045"), Some("0.007275")),
        ),
        (
            "anthropic: undated alias",
            Some("anthropic"),
            "claude-haiku-4-5",
            usage(10, 0, 0, 20, 0),
            (Some("0.00001"), Some("0.0001"), Some("0.00011")),
        ),
        (
            "gemini: 600 fresh + 400 cached in, 250 out with 100 thinking",
            Some("google"),
            "gemini-2.5-flash",
            usage(1000, 400, 0, 250, 100),
            (Some("0.00021"), Some("0.000625"), Some("0.000835")),
        ),
        (
            "gemini: a path-prefixed model name",
            Some("google"),
            "models/gemini-2.0-flash",
            usage(1000, 0, 0, 1000, 0),
            (Some("0.0001"), Some("0.0004"), Some("0.0005")),
        ),
        (
            "unknown model",
            Some("openai"),
            "my-finetune-7b",
            usage(1000, 0, 0, 1000, 0),
            (None, None, None),
        ),
        (
            "a known model through a provider that does not list it",
            Some("ollama"),
            "gpt-4o",
            usage(1000, 0, 0, 1000, 0),
            (None, None, None),
        ),
        (
            "no provider and several providers list the model",
            None,
            "claude-sonnet-4-5",
            usage(1000, 0, 0, 1000, 0),
            (None, None, None),
        ),
        (
            "cached tokens of a model without a cache-read price",
            Some("openai"),
            "gpt-4o-2024-05-13",
            usage(1000, 10, 0, 1000, 0),
            (None, Some("0.015"), None),
        ),
        (
            "reasoning tokens of a model that prices reasoning apart",
            Some("alibaba"),
            "qwen-plus",
            usage(1000, 0, 0, 1000, 10),
            (Some("0.0004"), None, None),
        ),
        (
            "more cached tokens than prompt tokens",
            Some("openai"),
            "gpt-4o",
            usage(10, 20, 0, 1, 0),
            (None, Some("0.00001"), None),
        ),
    ];
    for (name, provider, model, u, want) in cases {
        let costs = c
            .prices()
            .resolve(*provider, model)
            .map(|(_, p)| p.cost(u))
            .unwrap_or_default();
        let want = (
            want.0.map(str::to_string),
            want.1.map(str::to_string),
            want.2.map(str::to_string),
        );
        assert_eq!(costs_text(&costs), want, "{name}");
    }
}

/// Scenario: costs are written into an `ai.response` usage and serialised.
/// Guarantees: the JSON numbers read back as the exact decimals, and an
/// unpriced model clears costs rather than keeping stale ones.
#[test]
fn costs_are_written_as_exact_json_numbers() {
    let c = official();
    let mut u = usage(1000, 200, 0, 500, 0);
    c.prices()
        .price_usage(Some("openai"), Some("gpt-4o"), &mut u);
    let v = serde_json::to_value(&u).unwrap();
    assert_eq!(v["input_cost_usd"].to_string(), "0.00225");
    assert_eq!(v["output_cost_usd"].to_string(), "0.005");
    assert_eq!(v["total_cost_usd"].to_string(), "0.00725");
    c.prices().price_usage(Some("openai"), Some("nope"), &mut u);
    assert_eq!(
        (&u.input_cost_usd, &u.output_cost_usd, &u.total_cost_usd),
        (&None, &None, &None)
    );
    c.prices().price_usage(Some("openai"), None, &mut u);
    assert_eq!(u.total_cost_usd, None);
}

fn table(models: &[&str]) -> PriceTable {
    let mut t = PriceTable::default();
    for m in models {
        t.add_catalog(
            "p",
            m,
            ModelPrice {
                input_per_1k: Decimal::ONE,
                output_per_1k: Decimal::ONE,
                cache_read_per_1k: None,
                cache_write_per_1k: None,
                reasoning_per_1k: None,
            },
        );
    }
    t
}

/// Scenario: model ids with and without date suffixes against a table.
/// Guarantees: the longest known id followed by a date wins; size tiers
/// and other suffixes are never stripped; hostile ids resolve to nothing
/// without panicking.
#[test]
fn dated_ids_resolve_to_the_longest_known_id() {
    let t = table(&["claude-3-5", "claude-3-5-haiku", "gpt-4o", "gpt-4"]);
    let found = |m: &str| t.resolve(Some("p"), m).map(|(id, _)| id.to_string());
    for (model, want) in [
        ("claude-3-5-haiku-20241022", Some("claude-3-5-haiku")),
        ("claude-3-5-20241022", Some("claude-3-5")),
        ("gpt-4o-2024-08-06", Some("gpt-4o")),
        ("gpt-4-0613", Some("gpt-4")),
        ("vendor/gpt-4o-2024-08-06", Some("gpt-4o")),
        ("gpt-4o-mini-2024-07-18", None),
        ("gpt-4o-mini", None),
        ("gpt-4o-2024-13-06", None),
        ("gpt-4o-9999", None),
        ("gpt-4o-latest", None),
        ("gpt-4o-2024-08-0\u{e9}", None),
        ("gpt-4o-20\u{e9}4", None),
        ("\u{e9}-", None),
        ("-", None),
        ("", None),
    ] {
        assert_eq!(found(model).as_deref(), want, "{model:?}");
    }
    assert_eq!(t.resolve(Some("other"), "gpt-4o"), None);
}

fn pricing_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// Scenario: a pricing file with negotiated OpenAI rates and a free local
/// model, merged over the official catalogue.
/// Guarantees: its prices win for their provider, an entry without a
/// provider applies to any provider, and other models keep catalogue prices.
#[test]
fn a_pricing_file_overrides_and_adds_prices() {
    let mut c = official();
    let f = pricing_file(
        "models:\n\
         - {model: gpt-4o, provider: openai, input_cost_per_1k: 0.002, output_cost_per_1k: \"0.008\", cache_read_cost_per_1k: 0.001}\n\
         - {model: llama3.3:70b, input_cost_per_1k: 0, output_cost_per_1k: 0}\n",
    );
    c.merge_pricing_file(f.path()).unwrap();
    let cost = |provider: &str, model: &str, u: &Usage| {
        let costs = c
            .prices()
            .resolve(Some(provider), model)
            .map(|(_, p)| p.cost(u))
            .unwrap_or_default();
        costs_text(&costs)
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        cost("openai", "gpt-4o-2024-11-20", &usage(1000, 0, 0, 1000, 0)),
        (s("0.0025"), s("0.01"), s("0.0125")),
        "the dated id has its own catalogue entry"
    );
    assert_eq!(
        cost("openai", "gpt-4o", &usage(1000, 500, 0, 1000, 0)),
        (s("0.0015"), s("0.008"), s("0.0095"))
    );
    assert_eq!(
        cost("ollama", "llama3.3:70b", &usage(5000, 0, 0, 700, 0)),
        (s("0"), s("0"), s("0"))
    );
    assert_eq!(
        cost("anthropic", "claude-haiku-4-5", &usage(10, 0, 0, 20, 0)).2,
        s("0.00011")
    );
}

/// Scenario: broken pricing files.
/// Guarantees: each is an error naming the file or the model, never a panic.
#[test]
fn bad_pricing_files_are_errors() {
    let mut c = ProviderCatalog::builtin();
    for (text, needle) in [
        ("models: [{model: m, input_cost_per_1k: -1, output_cost_per_1k: 0}]", "\"m\": input_cost_per_1k: \"-1\""),
        ("models: [{model: m, input_cost_per_1k: 1, output_cost_per_1k: 1e300}]", "output_cost_per_1k"),
        ("models: [{model: m, input_cost_per_1k: \"cheap\", output_cost_per_1k: 1}]", "\"cheap\""),
        ("models: [{model: m, input_cost_per_1k: 1, output_cost_per_1k: 1, cache_read_cost_per_1k: .nan}]", "cache_read_cost_per_1k"),
        ("models: [{model: m, input_cost_per_1k: 1}]", "output_cost_per_1k"),
        ("models: [{model: m, input_cost_per_1k: 1, output_cost_per_1k: 1, typo: 1}]", "typo"),
        ("[1, 2", "parsing pricing file"),
    ] {
        let f = pricing_file(text);
        let err = c.merge_pricing_file(f.path()).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    let err = c
        .merge_pricing_file("/nonexistent/prices.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/prices.yaml"), "{err}");
    assert!(
        c.prices().resolve(None, "m").is_none(),
        "no broken file added a price"
    );
}

/// Scenario: a price with more decimals than a cost keeps.
/// Guarantees: costs are rounded half away from zero to 12 places.
#[test]
fn costs_round_to_twelve_places() {
    let price = |input: &str| ModelPrice {
        input_per_1k: dec(input),
        output_per_1k: Decimal::ZERO,
        cache_read_per_1k: None,
        cache_write_per_1k: None,
        reasoning_per_1k: None,
    };
    let one_token = usage(1, 0, 0, 0, 0);
    for (per_1k, want) in [
        ("0.0000001234567", "0.000000000123"),
        ("0.0000001235", "0.000000000124"),
        ("0.00000875", "0.00000000875"),
    ] {
        let c = price(per_1k).cost(&one_token);
        assert_eq!(
            c.input_usd.map(|d| d.to_string()).as_deref(),
            Some(want),
            "{per_1k}"
        );
    }
}
