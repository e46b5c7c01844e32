//! OTTL errors: parse errors that quote the statement or condition and name
//! the column and what was expected, and evaluation errors raised while a
//! statement runs against a record.

use std::fmt;

/// A problem found at a byte offset of the source, before it is attached to
/// the statement text.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// Byte offset into the source.
    pub pos: usize,
    /// What is wrong, e.g. `expected ")"`.
    pub message: String,
}

impl SyntaxError {
    /// An error at byte `pos`.
    pub fn new(pos: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            pos,
            message: message.into(),
        }
    }
}

/// What was being parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// An editor call with an optional `where` clause (transform, routing `statement`).
    Statement,
    /// A boolean expression (filter, routing `condition`, transform `conditions`).
    Condition,
}

impl SourceKind {
    fn as_str(self) -> &'static str {
        match self {
            SourceKind::Statement => "statement",
            SourceKind::Condition => "condition",
        }
    }
}

/// A statement or condition that cannot be compiled, with its position.
///
/// Displays as `unable to parse OTTL statement "<text>" at column <n>: <message>`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ParseError {
    /// Statement or condition.
    pub kind: SourceKind,
    /// The source as written.
    pub text: String,
    /// 1-based column (in characters) where the problem is.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    /// Attaches `err` (a byte offset) to the source `text`.
    pub fn new(kind: SourceKind, text: &str, err: SyntaxError) -> ParseError {
        let byte = err.pos.min(text.len());
        let column = text.char_indices().take_while(|(i, _)| *i < byte).count() + 1;
        ParseError {
            kind,
            text: text.to_string(),
            column,
            message: err.message,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unable to parse OTTL {} \"{}\" at column {}: {}",
            self.kind.as_str(),
            self.text,
            self.column,
            self.message
        )
    }
}

/// A failure while evaluating a statement or condition against one record
/// (a type mismatch, a bad index). Error modes decide what happens next.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl EvalError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> EvalError {
        EvalError(message.into())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "x == \"é\" and";
        let err = ParseError::new(
            SourceKind::Condition,
            text,
            SyntaxError::new(text.len(), "expected a value"),
        );
        assert_eq!(err.column, 13);
        assert_eq!(
            err.to_string(),
            r#"unable to parse OTTL condition "x == "é" and" at column 13: expected a value"#
        );
    }
}
