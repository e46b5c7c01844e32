//! OTTL, the OpenTelemetry Transformation Language, as the collector's
//! filter, transform and routing components use it: a parser and evaluator
//! for the language users actually write against logs and spans.
//!
//! Written here rather than taken from a crate because it is part of what
//! oispd offers: collector-compatible semantics (nil for missing keys, the
//! comparison rules across types, RE2 regexes) with better errors: every
//! problem in a statement is found when the config is validated and reported
//! with the statement, the column and what was expected
//! (`unable to parse OTTL statement "set(attributes["x"], 1" at column 23: expected ")"`).
//!
//! Entry points: [`Condition`] (filter conditions, routing conditions,
//! transform group conditions) and [`Statement`] (transform statements,
//! routing `route() where ...`), both compiled for a [`Context`] and run
//! against a [`RecordMut`].

mod ast;
mod compare;
mod compile;
mod config;
mod convert;
mod edit;
mod error;
mod errors;
mod expr;
mod lexer;
mod parser;
mod path;
mod record;
mod suggest;
mod value;
mod walk;

#[cfg(test)]
mod tests;

pub use config::{ConditionGroup, ConditionGroupFields, StatementGroup, StatementGroupFields};
pub use error::{EvalError, ParseError, SourceKind};
pub use errors::{ErrorCounters, ErrorLog, ErrorMode};
pub use record::{Context, Item, RecordMut};
pub use value::{Kind, Value};
pub use walk::{retain, visit};

use compile::{condition_paths, infer_context, statement_paths, Compiler, Purpose};
use edit::Editor;
use error::SyntaxError;
use expr::Cond;

/// A compiled OTTL condition.
#[derive(Debug)]
pub struct Condition {
    text: String,
    context: Context,
    cond: Cond,
}

impl Condition {
    /// Compiles `text` for `context` (unprefixed paths such as `attributes`
    /// belong to that context).
    pub fn parse(text: &str, context: Context) -> Result<Condition, ParseError> {
        let fail = |e: SyntaxError| ParseError::new(SourceKind::Condition, text, e);
        let ast = parser::parse_condition(text).map_err(fail)?;
        Self::compile(text, &ast, context).map_err(fail)
    }

    /// Compiles `text`, inferring its context from path prefixes (`log.`,
    /// `span.`, `resource.`, `scope.`); unprefixed paths mean `record` (the
    /// log or span context of the pipeline).
    pub fn parse_inferred(text: &str, record: Context) -> Result<Condition, ParseError> {
        let fail = |e: SyntaxError| ParseError::new(SourceKind::Condition, text, e);
        let ast = parser::parse_condition(text).map_err(fail)?;
        let context = infer_context(&condition_paths(&ast), record).map_err(fail)?;
        Self::compile(text, &ast, context).map_err(fail)
    }

    fn compile(text: &str, ast: &ast::BoolAst, context: Context) -> Result<Condition, SyntaxError> {
        let compiler = Compiler {
            ctx: context,
            purpose: Purpose::Condition,
        };
        Ok(Condition {
            text: text.to_string(),
            context,
            cond: compiler.condition(ast)?,
        })
    }

    /// The condition as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The context it was compiled for.
    pub fn context(&self) -> Context {
        self.context
    }

    /// Evaluates the condition against one record.
    pub fn eval(&self, rec: &RecordMut<'_>) -> Result<bool, EvalError> {
        self.cond.eval(rec)
    }
}

/// A compiled OTTL statement: an editor and its optional `where` clause.
#[derive(Debug)]
pub struct Statement {
    text: String,
    context: Context,
    editor: Editor,
    condition: Option<Cond>,
}

impl Statement {
    /// Compiles a transform statement for `context`.
    pub fn parse(text: &str, context: Context) -> Result<Statement, ParseError> {
        Self::parse_for(text, Some(context), Context::Log, Purpose::Transform)
    }

    /// Compiles a transform statement, inferring its context from path
    /// prefixes (see [`Condition::parse_inferred`]).
    pub fn parse_inferred(text: &str, record: Context) -> Result<Statement, ParseError> {
        Self::parse_for(text, None, record, Purpose::Transform)
    }

    /// Compiles a routing statement `route() where <condition>` and returns its
    /// condition (a statement without `where` always matches).
    pub fn parse_route(text: &str, context: Context) -> Result<Condition, ParseError> {
        let statement = Self::parse_for(text, Some(context), context, Purpose::Route)?;
        Ok(Condition {
            text: statement.text,
            context,
            cond: statement.condition.unwrap_or(Cond::Const(true)),
        })
    }

    fn parse_for(
        text: &str,
        context: Option<Context>,
        record: Context,
        purpose: Purpose,
    ) -> Result<Statement, ParseError> {
        let fail = |e: SyntaxError| ParseError::new(SourceKind::Statement, text, e);
        let ast = parser::parse_statement(text).map_err(fail)?;
        let context = match context {
            Some(c) => c,
            None => infer_context(&statement_paths(&ast), record).map_err(fail)?,
        };
        let compiler = Compiler {
            ctx: context,
            purpose,
        };
        let (editor, condition) = compiler.statement(&ast).map_err(fail)?;
        Ok(Statement {
            text: text.to_string(),
            context,
            editor,
            condition,
        })
    }

    /// The statement as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The context it runs in.
    pub fn context(&self) -> Context {
        self.context
    }

    /// Runs the statement: evaluates the `where` clause and, if it holds,
    /// applies the editor. Returns whether the editor ran.
    pub fn execute(&self, rec: &mut RecordMut<'_>) -> Result<bool, EvalError> {
        if let Some(cond) = &self.condition {
            if !cond.eval(rec)? {
                return Ok(false);
            }
        }
        self.editor.apply(rec)?;
        Ok(true)
    }
}

/// Infers one context for a group of statements and conditions written
/// without an explicit `context` (see [`Condition::parse_inferred`]).
pub fn infer_group_context(
    statements: &[String],
    conditions: &[String],
    record: Context,
) -> Result<Context, ParseError> {
    let mut statement_asts = Vec::new();
    for text in statements {
        let ast = parser::parse_statement(text)
            .map_err(|e| ParseError::new(SourceKind::Statement, text, e))?;
        statement_asts.push((text, ast));
    }
    let mut condition_asts = Vec::new();
    for text in conditions {
        let ast = parser::parse_condition(text)
            .map_err(|e| ParseError::new(SourceKind::Condition, text, e))?;
        condition_asts.push((text, ast));
    }
    let mut paths = Vec::new();
    for (_, ast) in &statement_asts {
        paths.extend(statement_paths(ast));
    }
    for (_, ast) in &condition_asts {
        paths.extend(condition_paths(ast));
    }
    let first = statements.first().or(conditions.first());
    infer_context(&paths, record).map_err(|e| {
        ParseError::new(
            SourceKind::Statement,
            first.map(String::as_str).unwrap_or_default(),
            SyntaxError::new(0, e.message),
        )
    })
}
