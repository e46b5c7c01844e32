//! The syntax tree the parser produces, before names are resolved. Every
//! node keeps the byte offset where it starts so that later checks (unknown
//! function, bad path, wrong argument) can still name a column.

use super::lexer::{CmpOp, MathOp};

/// A parsed statement: `editor(args) [where condition]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementAst {
    /// The editor call.
    pub editor: CallAst,
    /// The optional `where` clause.
    pub where_clause: Option<BoolAst>,
}

/// A boolean expression.
#[derive(Clone, Debug, PartialEq)]
pub enum BoolAst {
    /// `a or b or ...`
    Or(Vec<BoolAst>),
    /// `a and b and ...`
    And(Vec<BoolAst>),
    /// `not a`
    Not(Box<BoolAst>),
    /// `left op right`
    Cmp {
        /// Left operand.
        left: ValueAst,
        /// Operator.
        op: CmpOp,
        /// Right operand.
        right: ValueAst,
    },
    /// `true` / `false`
    Const(bool),
    /// A converter standing alone (`IsMatch(...)`), which must yield a bool.
    Call(CallAst),
}

/// A value expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueAst {
    /// `nil`
    Nil(usize),
    /// A string literal.
    Str(String, usize),
    /// An integer literal.
    Int(i64, usize),
    /// A float literal.
    Float(f64, usize),
    /// A bytes literal.
    Bytes(Vec<u8>, usize),
    /// `true` / `false`
    Bool(bool, usize),
    /// An upper-case name that is not called: an enum (`SEVERITY_NUMBER_WARN`)
    /// or, as an argument, a function name (`SHA256`).
    Ident(String, usize),
    /// `{"k": v, ...}`
    Map(Vec<(String, ValueAst)>, usize),
    /// `[v, ...]`
    List(Vec<ValueAst>, usize),
    /// A telemetry path.
    Path(PathAst),
    /// A function call (converter, or an editor in the wrong place).
    Call(CallAst),
    /// `left op right`
    Math {
        /// Operator.
        op: MathOp,
        /// Left operand.
        left: Box<ValueAst>,
        /// Right operand.
        right: Box<ValueAst>,
        /// Offset of the operator.
        pos: usize,
    },
}

impl ValueAst {
    /// Where the expression starts.
    pub fn pos(&self) -> usize {
        match self {
            ValueAst::Nil(p)
            | ValueAst::Str(_, p)
            | ValueAst::Int(_, p)
            | ValueAst::Float(_, p)
            | ValueAst::Bytes(_, p)
            | ValueAst::Bool(_, p)
            | ValueAst::Ident(_, p)
            | ValueAst::Map(_, p)
            | ValueAst::List(_, p) => *p,
            ValueAst::Path(p) => p.pos,
            ValueAst::Call(c) => c.pos,
            ValueAst::Math { left, .. } => left.pos(),
        }
    }

    /// A short description for error messages (`a string literal`, `path "body"`).
    pub fn describe(&self) -> String {
        match self {
            ValueAst::Nil(_) => "nil".into(),
            ValueAst::Str(s, _) => format!("the string {s:?}"),
            ValueAst::Int(i, _) => format!("the integer {i}"),
            ValueAst::Float(f, _) => format!("the number {f}"),
            ValueAst::Bytes(..) => "a bytes literal".into(),
            ValueAst::Bool(b, _) => format!("{b}"),
            ValueAst::Ident(s, _) => s.clone(),
            ValueAst::Map(..) => "a map literal".into(),
            ValueAst::List(..) => "a list literal".into(),
            ValueAst::Path(p) => format!("path {}", p.text),
            ValueAst::Call(c) => format!("{}(...)", c.name),
            ValueAst::Math { .. } => "an arithmetic expression".into(),
        }
    }
}

/// A function call with optional indexes on its result.
#[derive(Clone, Debug, PartialEq)]
pub struct CallAst {
    /// The function name as written.
    pub name: String,
    /// Offset of the name.
    pub pos: usize,
    /// Arguments in order.
    pub args: Vec<ArgAst>,
    /// `[..]` indexes applied to the result.
    pub keys: Vec<KeyAst>,
}

/// One argument, optionally named (`name = value`).
#[derive(Clone, Debug, PartialEq)]
pub struct ArgAst {
    /// The parameter name, when given.
    pub name: Option<String>,
    /// The value.
    pub value: ValueAst,
    /// Where the argument starts.
    pub pos: usize,
}

/// A path such as `resource.attributes["host.name"]` or `body["a"][0]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PathAst {
    /// Dot-separated segments, each with its indexes.
    pub segments: Vec<SegmentAst>,
    /// Offset of the first segment.
    pub pos: usize,
    /// The path as written (for messages).
    pub text: String,
}

/// One segment of a path.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentAst {
    /// Field name.
    pub name: String,
    /// Indexes after it.
    pub keys: Vec<KeyAst>,
    /// Offset of the name.
    pub pos: usize,
}

/// An index: `["key"]` or `[0]`.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyAst {
    /// A map key.
    Str(String),
    /// A list index.
    Int(i64),
}
