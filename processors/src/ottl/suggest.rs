//! "Did you mean" suggestions for misspelled function, path and enum names.

/// The candidate closest to `input`: same name in another case, a prefix
/// (`ToLower` -> `ToLowerCase`), or within a small edit distance.
pub fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = input.to_ascii_lowercase();
    let limit = (input.len() / 3).max(2);
    let mut best: Option<(usize, &'c str)> = None;
    for candidate in candidates {
        let cl = candidate.to_ascii_lowercase();
        let distance = if cl == lower {
            0
        } else if lower.len() >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl)) {
            1
        } else {
            levenshtein(&lower, &cl)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_prefixes_case_and_typos() {
        let names = ["ToLowerCase", "ToUpperCase", "IsMatch", "Int", "set"];
        assert_eq!(did_you_mean("ToLower", names), Some("ToLowerCase"));
        assert_eq!(did_you_mean("int", names), Some("Int"));
        assert_eq!(did_you_mean("IsMatc", names), Some("IsMatch"));
        assert_eq!(did_you_mean("sett", names), Some("set"));
        assert_eq!(did_you_mean("Frobnicate", names), None);
    }
}
