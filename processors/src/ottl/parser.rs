//! A recursive-descent parser for the collector's OTTL grammar
//! (`pkg/ottl/grammar.go` and `LANGUAGE.md`):
//!
//! ```text
//! statement  = editor [ "where" bool_expr ]
//! condition  = bool_expr
//! bool_expr  = term { "or" term }
//! term       = bool_value { "and" bool_value }
//! bool_value = [ "not" ] ( comparison | Boolean | converter | "(" bool_expr ")" )
//! comparison = value op value
//! value      = nil | String | Bytes | Boolean | map | list | math_expr
//! math_expr  = add_term { ("+"|"-") add_term }
//! add_term   = math_value { ("*"|"/") math_value }
//! math_value = Int | Float | path | call | Enum | "(" math_expr ")"
//! ```
//!
//! Written by hand (the grammar is small and it is oispd's product) so that
//! every error carries the position of the offending token and what was
//! expected there. Where two alternatives start alike (`(` opens both a
//! boolean group and an arithmetic group) the parser backtracks and keeps the
//! error that got furthest.
//!
//! Parsing, compiling and evaluating each recurse once per nesting level, so
//! nesting is limited to [`MAX_DEPTH`] levels of parentheses, lists, maps and
//! calls: without a limit, a few KB of `(` overflow the stack and abort the
//! process.

use super::ast::{ArgAst, BoolAst, CallAst, KeyAst, PathAst, SegmentAst, StatementAst, ValueAst};
use super::error::SyntaxError;
use super::lexer::{tokenize, MathOp, Tok, Token};

type PResult<T> = Result<T, SyntaxError>;

/// The deepest nesting accepted: parentheses, lists, maps and call
/// arguments, each opening one level. Real statements use a handful.
pub const MAX_DEPTH: usize = 100;

/// Parses an editor statement with an optional `where` clause.
pub fn parse_statement(src: &str) -> PResult<StatementAst> {
    let mut p = Parser::new(src, "statement")?;
    let editor = match (p.peek(), p.peek_at(1)) {
        (Tok::Ident(name), Tok::LParen) => {
            if starts_upper(name) {
                return Err(SyntaxError::new(
                    p.pos(),
                    format!("editor names must start with a lowercase letter but got '{name}'"),
                ));
            }
            let call = p.nested(Parser::call)?;
            if !call.keys.is_empty() {
                return Err(SyntaxError::new(
                    call.pos,
                    format!(
                        "only paths and converters may be indexed, not editors, but got {}{}",
                        call.name,
                        keys_text(&call.keys)
                    ),
                ));
            }
            call
        }
        _ => return Err(p.err_expected("an editor call such as set(...)")),
    };
    let where_clause = if p.eat(&Tok::Where) {
        Some(p.bool_expr()?)
    } else {
        None
    };
    if *p.peek() != Tok::Eof {
        let what = if where_clause.is_some() {
            "\"and\", \"or\" or the end of the statement"
        } else {
            "\"where\" or the end of the statement"
        };
        return Err(p.err_expected(what));
    }
    Ok(StatementAst {
        editor,
        where_clause,
    })
}

/// Parses a boolean condition.
pub fn parse_condition(src: &str) -> PResult<BoolAst> {
    let mut p = Parser::new(src, "condition")?;
    let cond = p.bool_expr()?;
    if *p.peek() != Tok::Eof {
        return Err(p.err_expected("\"and\", \"or\" or the end of the condition"));
    }
    Ok(cond)
}

fn starts_upper(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// Renders indexes as written: `["a"][0]`.
pub fn keys_text(keys: &[KeyAst]) -> String {
    keys.iter()
        .map(|k| match k {
            KeyAst::Str(s) => format!("[{s:?}]"),
            KeyAst::Int(i) => format!("[{i}]"),
        })
        .collect()
}

/// Keeps the error that got further into the input.
fn furthest(a: SyntaxError, b: SyntaxError) -> SyntaxError {
    if b.pos > a.pos {
        b
    } else {
        a
    }
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    i: usize,
    /// Brackets open on the current path of the descent.
    depth: usize,
    /// `statement` or `condition`, for the depth error.
    what: &'static str,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, what: &'static str) -> PResult<Parser<'s>> {
        Ok(Parser {
            src,
            toks: tokenize(src)?,
            i: 0,
            depth: 0,
            what,
        })
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return Err(SyntaxError::new(
                self.pos(),
                format!(
                    "OTTL {} nests deeper than {MAX_DEPTH} levels of parentheses, lists, maps and calls",
                    self.what
                ),
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks
            .get(self.i + n)
            .or_else(|| self.toks.last())
            .map(|t| &t.tok)
            .unwrap_or(&Tok::Eof)
    }

    fn pos(&self) -> usize {
        self.toks
            .get(self.i)
            .map(|t| t.pos)
            .unwrap_or(self.src.len())
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> PResult<()> {
        if self.eat(&tok) {
            Ok(())
        } else {
            Err(self.err_expected(what))
        }
    }

    fn err_expected(&self, what: &str) -> SyntaxError {
        let message = match self.peek() {
            Tok::Eof => format!("expected {what}"),
            other => format!("expected {what} but found {}", other.describe()),
        };
        SyntaxError::new(self.pos(), message)
    }

    /// The source text from `start` up to the current token.
    fn text_from(&self, start: usize) -> String {
        self.src[start..self.pos().max(start)]
            .trim_end()
            .to_string()
    }

    fn bool_expr(&mut self) -> PResult<BoolAst> {
        let mut terms = vec![self.term()?];
        while self.eat(&Tok::Or) {
            terms.push(self.term()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            BoolAst::Or(terms)
        })
    }

    fn term(&mut self) -> PResult<BoolAst> {
        let mut values = vec![self.bool_value()?];
        while self.eat(&Tok::And) {
            values.push(self.bool_value()?);
        }
        Ok(if values.len() == 1 {
            values.remove(0)
        } else {
            BoolAst::And(values)
        })
    }

    fn bool_value(&mut self) -> PResult<BoolAst> {
        if self.eat(&Tok::Not) {
            return Ok(BoolAst::Not(Box::new(self.bool_primary()?)));
        }
        self.bool_primary()
    }

    fn bool_primary(&mut self) -> PResult<BoolAst> {
        if *self.peek() == Tok::LParen {
            let save = self.i;
            match self.nested(Self::paren_bool) {
                Ok(e) => return Ok(e),
                Err(group_err) => {
                    self.i = save;
                    return self
                        .comparison_or_const()
                        .map_err(|cmp_err| furthest(group_err, cmp_err));
                }
            }
        }
        self.comparison_or_const()
    }

    /// `"(" bool_expr ")"` not followed by an operator (else it was arithmetic).
    fn paren_bool(&mut self) -> PResult<BoolAst> {
        self.bump();
        let inner = self.bool_expr()?;
        self.expect(Tok::RParen, "\")\"")?;
        if matches!(self.peek(), Tok::Cmp(_) | Tok::Math(_)) {
            return Err(SyntaxError::new(
                self.pos(),
                "a parenthesized condition cannot be compared or used in arithmetic",
            ));
        }
        Ok(inner)
    }

    fn comparison_or_const(&mut self) -> PResult<BoolAst> {
        let left = self.value()?;
        if let Tok::Cmp(op) = *self.peek() {
            self.bump();
            let right = self.value()?;
            return Ok(BoolAst::Cmp { left, op, right });
        }
        match left {
            ValueAst::Bool(b, _) => Ok(BoolAst::Const(b)),
            ValueAst::Call(call) => Ok(BoolAst::Call(call)),
            other => {
                let mut err = self.err_expected("a comparison operator (==, !=, <, <=, >, >=)");
                if *self.peek() == Tok::Equal {
                    err.message.push_str("; use == to compare");
                } else if let ValueAst::Path(path) = &other {
                    err.message.push_str(&format!(
                        "; a path is not a condition by itself, compare it (e.g. {} == true or {} != nil)",
                        path.text, path.text
                    ));
                }
                Err(err)
            }
        }
    }

    fn value(&mut self) -> PResult<ValueAst> {
        let pos = self.pos();
        let v = match self.peek().clone() {
            Tok::Nil => {
                self.bump();
                ValueAst::Nil(pos)
            }
            Tok::Str(s) => {
                self.bump();
                ValueAst::Str(s, pos)
            }
            Tok::Bytes(b) => {
                self.bump();
                ValueAst::Bytes(b, pos)
            }
            Tok::True => {
                self.bump();
                ValueAst::Bool(true, pos)
            }
            Tok::False => {
                self.bump();
                ValueAst::Bool(false, pos)
            }
            Tok::LBrace => self.nested(Self::map)?,
            Tok::LBracket => self.nested(Self::list)?,
            _ => return self.math_expr(),
        };
        if let Tok::Math(op) = *self.peek() {
            return Err(SyntaxError::new(
                self.pos(),
                format!(
                    "\"{}\" cannot be applied to {}; arithmetic works on numbers, paths and converters",
                    op.as_str(),
                    v.describe()
                ),
            ));
        }
        Ok(v)
    }

    fn math_expr(&mut self) -> PResult<ValueAst> {
        let mut left = self.add_term()?;
        while let Tok::Math(op @ (MathOp::Add | MathOp::Sub)) = *self.peek() {
            let pos = self.pos();
            self.bump();
            let right = self.add_term()?;
            left = ValueAst::Math {
                op,
                left: Box::new(left),
                right: Box::new(right),
                pos,
            };
        }
        Ok(left)
    }

    fn add_term(&mut self) -> PResult<ValueAst> {
        let mut left = self.math_value()?;
        while let Tok::Math(op @ (MathOp::Mul | MathOp::Div)) = *self.peek() {
            let pos = self.pos();
            self.bump();
            let right = self.math_value()?;
            left = ValueAst::Math {
                op,
                left: Box::new(left),
                right: Box::new(right),
                pos,
            };
        }
        Ok(left)
    }

    fn math_value(&mut self) -> PResult<ValueAst> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::LParen => self.nested(|p| {
                p.bump();
                let inner = p.math_expr()?;
                p.expect(Tok::RParen, "\")\"")?;
                Ok(inner)
            }),
            Tok::Int(i) => {
                self.bump();
                Ok(ValueAst::Int(i, pos))
            }
            Tok::Float(f) => {
                self.bump();
                Ok(ValueAst::Float(f, pos))
            }
            Tok::Ident(name) => {
                if *self.peek_at(1) == Tok::LParen {
                    Ok(ValueAst::Call(self.nested(Self::call)?))
                } else if starts_upper(&name) {
                    self.bump();
                    Ok(ValueAst::Ident(name, pos))
                } else {
                    Ok(ValueAst::Path(self.path()?))
                }
            }
            _ => Err(self.err_expected("a value")),
        }
    }

    fn call(&mut self) -> PResult<CallAst> {
        let pos = self.pos();
        let name = match self.bump() {
            Tok::Ident(name) => name,
            _ => return Err(SyntaxError::new(pos, "expected a function name")),
        };
        self.expect(Tok::LParen, "\"(\"")?;
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                let arg_pos = self.pos();
                let arg_name = match (self.peek(), self.peek_at(1)) {
                    (Tok::Ident(n), Tok::Equal) => {
                        let n = n.clone();
                        self.bump();
                        self.bump();
                        Some(n)
                    }
                    _ => None,
                };
                let value = self.value()?;
                args.push(ArgAst {
                    name: arg_name,
                    value,
                    pos: arg_pos,
                });
                if self.eat(&Tok::Comma) {
                    continue;
                }
                self.expect(Tok::RParen, "\")\"")?;
                break;
            }
        }
        let keys = self.keys()?;
        Ok(CallAst {
            name,
            pos,
            args,
            keys,
        })
    }

    fn keys(&mut self) -> PResult<Vec<KeyAst>> {
        let mut keys = Vec::new();
        while self.eat(&Tok::LBracket) {
            let key = match self.peek().clone() {
                Tok::Str(s) => KeyAst::Str(s),
                Tok::Int(i) => KeyAst::Int(i),
                _ => return Err(self.err_expected("a string or integer key")),
            };
            self.bump();
            self.expect(Tok::RBracket, "\"]\"")?;
            keys.push(key);
        }
        Ok(keys)
    }

    fn path(&mut self) -> PResult<PathAst> {
        let start = self.pos();
        let mut segments = Vec::new();
        loop {
            let pos = self.pos();
            let name = match self.peek().clone() {
                Tok::Ident(name) => name,
                _ => return Err(self.err_expected("a field name after \".\"")),
            };
            self.bump();
            let keys = self.keys()?;
            segments.push(SegmentAst { name, keys, pos });
            if !self.eat(&Tok::Dot) {
                break;
            }
        }
        Ok(PathAst {
            segments,
            pos: start,
            text: self.text_from(start),
        })
    }

    fn map(&mut self) -> PResult<ValueAst> {
        let pos = self.pos();
        self.bump();
        let mut items = Vec::new();
        while !self.eat(&Tok::RBrace) {
            let key = match self.peek().clone() {
                Tok::Str(s) => s,
                _ => return Err(self.err_expected("a string key or \"}\"")),
            };
            self.bump();
            self.expect(Tok::Colon, "\":\"")?;
            let value = self.value()?;
            items.push((key, value));
            if !self.eat(&Tok::Comma) {
                self.expect(Tok::RBrace, "\",\" or \"}\"")?;
                break;
            }
        }
        Ok(ValueAst::Map(items, pos))
    }

    fn list(&mut self) -> PResult<ValueAst> {
        let pos = self.pos();
        self.bump();
        let mut items = Vec::new();
        if !self.eat(&Tok::RBracket) {
            loop {
                items.push(self.value()?);
                if self.eat(&Tok::Comma) {
                    continue;
                }
                self.expect(Tok::RBracket, "\",\" or \"]\"")?;
                break;
            }
        }
        Ok(ValueAst::List(items, pos))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::lexer::CmpOp;
    use super::*;

    fn path(text: &str) -> ValueAst {
        match parse_condition(&format!("{text} == nil")).unwrap() {
            BoolAst::Cmp { left, .. } => left,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_and() {
        let c = parse_condition("a == 1 or not b == 2 and c == 3").unwrap();
        let BoolAst::Or(terms) = c else {
            panic!("{c:?}")
        };
        assert_eq!(terms.len(), 2);
        assert!(matches!(terms[0], BoolAst::Cmp { op: CmpOp::Eq, .. }));
        let BoolAst::And(values) = &terms[1] else {
            panic!("{:?}", terms[1])
        };
        assert!(matches!(values[0], BoolAst::Not(_)));
        assert!(matches!(values[1], BoolAst::Cmp { .. }));
    }

    #[test]
    fn parentheses_group_booleans_and_arithmetic() {
        let c = parse_condition("(a == 1 or b == 2) and c == 3").unwrap();
        let BoolAst::And(values) = c else {
            panic!("{c:?}")
        };
        assert!(matches!(values[0], BoolAst::Or(_)));
        let c = parse_condition("(x + 1) * 2 > 3").unwrap();
        let BoolAst::Cmp { left, .. } = c else {
            panic!("{c:?}")
        };
        let ValueAst::Math { op, left, .. } = left else {
            panic!()
        };
        assert_eq!(op, MathOp::Mul);
        assert!(matches!(
            *left,
            ValueAst::Math {
                op: MathOp::Add,
                ..
            }
        ));
    }

    #[test]
    fn multiplication_binds_tighter_than_addition() {
        let ValueAst::Math { op, right, .. } = path("1 + 2 * 3") else {
            panic!()
        };
        assert_eq!(op, MathOp::Add);
        assert!(matches!(
            *right,
            ValueAst::Math {
                op: MathOp::Mul,
                ..
            }
        ));
    }

    #[test]
    fn paths_keep_segments_keys_and_text() {
        let ValueAst::Path(p) = path(r#"resource.attributes["host.name"][0]"#) else {
            panic!()
        };
        assert_eq!(p.text, r#"resource.attributes["host.name"][0]"#);
        assert_eq!(p.segments.len(), 2);
        assert_eq!(
            p.segments[1].keys,
            vec![KeyAst::Str("host.name".into()), KeyAst::Int(0)]
        );
    }

    #[test]
    fn statements_with_named_args_maps_lists_and_where() {
        let s = parse_statement(
            r#"set(attributes["m"], {"a": [1, 2.5, "x"], "b": nil}) where IsMatch(body, "x")"#,
        )
        .unwrap();
        assert_eq!(s.editor.name, "set");
        assert!(matches!(s.editor.args[1].value, ValueAst::Map(..)));
        assert!(matches!(s.where_clause, Some(BoolAst::Call(_))));
        let s = parse_statement(r#"replace_pattern(body, "a", "b", function = SHA256)"#).unwrap();
        assert_eq!(s.editor.args[3].name.as_deref(), Some("function"));
        assert!(matches!(s.editor.args[3].value, ValueAst::Ident(..)));
    }

    #[test]
    fn converters_may_be_indexed_and_stand_alone() {
        let c = parse_condition(r#"ParseJSON(body)["a"] == 1 and IsString(body)"#).unwrap();
        let BoolAst::And(v) = c else { panic!() };
        let BoolAst::Cmp {
            left: ValueAst::Call(call),
            ..
        } = &v[0]
        else {
            panic!()
        };
        assert_eq!(call.keys, vec![KeyAst::Str("a".into())]);
    }

    fn err(src: &str, statement: bool) -> (usize, String) {
        let e = if statement {
            parse_statement(src).unwrap_err()
        } else {
            parse_condition(src).unwrap_err()
        };
        (e.pos, e.message)
    }

    #[test]
    fn syntax_errors_say_what_was_expected_where() {
        assert_eq!(
            err(r#"set(attributes["x"], 1"#, true),
            (22, "expected \")\"".into())
        );
        assert_eq!(
            err("Set(body, 1)", true),
            (
                0,
                "editor names must start with a lowercase letter but got 'Set'".into()
            )
        );
        assert_eq!(
            err(r#"set(body, 1)["a"]"#, true),
            (
                0,
                "only paths and converters may be indexed, not editors, but got set[\"a\"]".into()
            )
        );
        assert_eq!(
            err("body == 1", true),
            (
                0,
                "expected an editor call such as set(...) but found \"body\"".into()
            )
        );
        assert_eq!(
            err("set(body, 1) if x", true),
            (
                13,
                "expected \"where\" or the end of the statement but found \"if\"".into()
            )
        );
        assert_eq!(
            err(r#"attributes["x"]"#, false),
            (
                15,
                "expected a comparison operator (==, !=, <, <=, >, >=); a path is not a condition by itself, compare it (e.g. attributes[\"x\"] == true or attributes[\"x\"] != nil)".into()
            )
        );
        assert_eq!(
            err("a = 1", false),
            (
                2,
                "expected a comparison operator (==, !=, <, <=, >, >=) but found \"=\"; use == to compare".into()
            )
        );
        assert_eq!(err("a == 1 and", false), (10, "expected a value".into()));
        assert_eq!(
            err("a == 1 b == 2", false),
            (
                7,
                "expected \"and\", \"or\" or the end of the condition but found \"b\"".into()
            )
        );
        assert_eq!(
            err(r#"body["a" == 1"#, false),
            (9, "expected \"]\" but found \"==\"".into())
        );
        assert_eq!(
            err("body[x] == 1", false),
            (5, "expected a string or integer key but found \"x\"".into())
        );
        assert_eq!(
            err(r#""a" + "b" == 1"#, false),
            (
                4,
                "\"+\" cannot be applied to the string \"a\"; arithmetic works on numbers, paths and converters".into()
            )
        );
        assert_eq!(err("(a == 1", false), (7, "expected \")\"".into()));
        assert_eq!(
            err("resource. == 1", false),
            (
                10,
                "expected a field name after \".\" but found \"==\"".into()
            )
        );
        assert_eq!(
            err(r#"x == {"a" 1}"#, false),
            (10, "expected \":\" but found 1".into())
        );
        assert_eq!(
            err("x == [1 2]", false),
            (8, "expected \",\" or \"]\" but found 2".into())
        );
    }
}
