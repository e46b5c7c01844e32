//! The OTTL tokenizer: turns one statement or condition into tokens with
//! their byte offsets, following the collector's lexer (`pkg/ottl/grammar.go`):
//! `0x..` bytes, numbers with an optional sign, double-quoted strings with Go
//! escapes, the keywords `nil true false not and or where`, comparison and
//! arithmetic operators, punctuation and identifiers.
//!
//! Two deliberate differences: identifiers are lexed whole (`IsMatch`, not
//! `I` `s` `M` `atch`), which the parser then classifies by their first
//! letter; and a `+`/`-` directly after a value is an operator, so `x-1`
//! means subtraction instead of a syntax error.

use super::error::SyntaxError;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl MathOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
        }
    }
}

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier (`attributes`, `IsMatch`, `SEVERITY_NUMBER_WARN`).
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A floating point literal.
    Float(f64),
    /// A bytes literal (`0x0a0b`).
    Bytes(Vec<u8>),
    /// `true`
    True,
    /// `false`
    False,
    /// `nil`
    Nil,
    /// `not`
    Not,
    /// `and`
    And,
    /// `or`
    Or,
    /// `where`
    Where,
    /// A comparison operator.
    Cmp(CmpOp),
    /// An arithmetic operator.
    Math(MathOp),
    /// `=` (named arguments)
    Equal,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `:`
    Colon,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is named in error messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Int(i) => format!("{i:?}"),
            Tok::Float(f) => format!("{f:?}"),
            Tok::Bytes(b) => format!("\"0x{}\"", hex::encode(b)),
            Tok::True => "\"true\"".into(),
            Tok::False => "\"false\"".into(),
            Tok::Nil => "\"nil\"".into(),
            Tok::Not => "\"not\"".into(),
            Tok::And => "\"and\"".into(),
            Tok::Or => "\"or\"".into(),
            Tok::Where => "\"where\"".into(),
            Tok::Cmp(op) => format!("{:?}", op.as_str()),
            Tok::Math(op) => format!("{:?}", op.as_str()),
            Tok::Equal => "\"=\"".into(),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBrace => "\"{\"".into(),
            Tok::RBrace => "\"}\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Colon => "\":\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Dot => "\".\"".into(),
            Tok::Eof => "the end of the input".into(),
        }
    }

    /// True for tokens after which a `+`/`-` is an operator, not a sign.
    fn ends_value(&self) -> bool {
        matches!(
            self,
            Tok::Ident(_)
                | Tok::Str(_)
                | Tok::Int(_)
                | Tok::Float(_)
                | Tok::Bytes(_)
                | Tok::True
                | Tok::False
                | Tok::Nil
                | Tok::RParen
                | Tok::RBracket
                | Tok::RBrace
        )
    }
}

/// A token and where it starts (byte offset into the source).
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub pos: usize,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let bytes = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let prev_ends_value = out.last().is_some_and(|t| t.tok.ends_value());
        let tok = match c {
            b'"' => {
                let (s, next) = lex_string(src, i)?;
                i = next;
                Tok::Str(s)
            }
            b'0' if bytes.get(i + 1) == Some(&b'x')
                && bytes.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit()) =>
            {
                let mut j = i + 2;
                while j < bytes.len() && bytes[j].is_ascii_hexdigit() {
                    j += 1;
                }
                let digits = &src[i + 2..j];
                let decoded = hex::decode(digits).map_err(|_| {
                    SyntaxError::new(
                        start,
                        format!("bytes literal 0x{digits} has an odd number of hex digits"),
                    )
                })?;
                i = j;
                Tok::Bytes(decoded)
            }
            b'0'..=b'9' => {
                let (t, next) = lex_number(src, i, i)?;
                i = next;
                t
            }
            b'+' | b'-'
                if !prev_ends_value
                    && (bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                        || (bytes.get(i + 1) == Some(&b'.')
                            && bytes.get(i + 2).is_some_and(u8::is_ascii_digit))) =>
            {
                let (t, next) = lex_number(src, i, i + 1)?;
                i = next;
                t
            }
            b'.' if !prev_ends_value && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let (t, next) = lex_number(src, i, i)?;
                i = next;
                t
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                let word = &src[i..j];
                i = j;
                match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "nil" => Tok::Nil,
                    "not" => Tok::Not,
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "where" => Tok::Where,
                    _ => Tok::Ident(word.to_string()),
                }
            }
            b'=' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Cmp(CmpOp::Eq)
            }
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Cmp(CmpOp::Ne)
            }
            b'<' | b'>' => {
                let or_equal = bytes.get(i + 1) == Some(&b'=');
                i += if or_equal { 2 } else { 1 };
                Tok::Cmp(match (c, or_equal) {
                    (b'<', false) => CmpOp::Lt,
                    (b'<', true) => CmpOp::Le,
                    (_, false) => CmpOp::Gt,
                    (_, true) => CmpOp::Ge,
                })
            }
            _ => {
                let single = match c {
                    b'=' => Some(Tok::Equal),
                    b'+' => Some(Tok::Math(MathOp::Add)),
                    b'-' => Some(Tok::Math(MathOp::Sub)),
                    b'*' => Some(Tok::Math(MathOp::Mul)),
                    b'/' => Some(Tok::Math(MathOp::Div)),
                    b'(' => Some(Tok::LParen),
                    b')' => Some(Tok::RParen),
                    b'{' => Some(Tok::LBrace),
                    b'}' => Some(Tok::RBrace),
                    b'[' => Some(Tok::LBracket),
                    b']' => Some(Tok::RBracket),
                    b':' => Some(Tok::Colon),
                    b',' => Some(Tok::Comma),
                    b'.' => Some(Tok::Dot),
                    _ => None,
                };
                match single {
                    Some(t) => {
                        i += 1;
                        t
                    }
                    None => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        let hint = if ch == '\'' {
                            "; OTTL strings use double quotes"
                        } else {
                            ""
                        };
                        return Err(SyntaxError::new(
                            start,
                            format!("unexpected character {ch:?}{hint}"),
                        ));
                    }
                }
            }
        };
        out.push(Token { tok, pos: start });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

/// Lexes `[-+]?\d*\.\d+([eE][-+]?\d+)?` or `[-+]?\d+` starting at `start`
/// (digits begin at `digits`).
fn lex_number(src: &str, start: usize, digits: usize) -> Result<(Tok, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let mut j = digits;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    let is_float = bytes.get(j) == Some(&b'.') && bytes.get(j + 1).is_some_and(u8::is_ascii_digit);
    if !is_float {
        let text = &src[start..j];
        let value: i64 = text.parse().map_err(|_| {
            SyntaxError::new(start, format!("integer literal {text} is out of range"))
        })?;
        return Ok((Tok::Int(value), j));
    }
    j += 1;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    if matches!(bytes.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(bytes.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if bytes.get(k).is_some_and(u8::is_ascii_digit) {
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = &src[start..j];
    let value: f64 = text
        .parse()
        .map_err(|_| SyntaxError::new(start, format!("invalid number {text}")))?;
    Ok((Tok::Float(value), j))
}

/// Lexes a double-quoted string at `start` with Go's escapes (`strconv.Unquote`).
fn lex_string(src: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        let at = start + 1 + off;
        match c {
            '"' => return Ok((out, at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut code = 0u32;
                        for _ in 0..n {
                            let digit = chars.next().and_then(|(_, d)| d.to_digit(16));
                            let Some(d) = digit else {
                                return Err(bad_escape(at, e));
                            };
                            code = code * 16 + d;
                        }
                        match char::from_u32(code) {
                            Some(ch) => out.push(ch),
                            None => return Err(bad_escape(at, e)),
                        }
                    }
                    '0'..='7' => {
                        let mut code = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            let digit = chars.next().and_then(|(_, d)| d.to_digit(8));
                            let Some(d) = digit else {
                                return Err(bad_escape(at, e));
                            };
                            code = code * 8 + d;
                        }
                        match char::from_u32(code) {
                            Some(ch) if code <= 0xff => out.push(ch),
                            _ => return Err(bad_escape(at, e)),
                        }
                    }
                    other => return Err(bad_escape(at, other)),
                }
            }
            _ => out.push(c),
        }
    }
    Err(SyntaxError::new(start, "unterminated string literal"))
}

fn bad_escape(at: usize, e: char) -> SyntaxError {
    SyntaxError::new(
        at,
        format!(
            "invalid escape sequence \"\\{e}\" in string; write \"\\\\{e}\" for a backslash followed by {e:?} (in regex patterns too)"
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_every_token_kind() {
        assert_eq!(
            toks(r#"set(attributes["a\"b"], 0x0aFF) where x >= -1.5e2 and not y != nil or true"#),
            vec![
                Tok::Ident("set".into()),
                Tok::LParen,
                Tok::Ident("attributes".into()),
                Tok::LBracket,
                Tok::Str("a\"b".into()),
                Tok::RBracket,
                Tok::Comma,
                Tok::Bytes(vec![0x0a, 0xff]),
                Tok::RParen,
                Tok::Where,
                Tok::Ident("x".into()),
                Tok::Cmp(CmpOp::Ge),
                Tok::Float(-150.0),
                Tok::And,
                Tok::Not,
                Tok::Ident("y".into()),
                Tok::Cmp(CmpOp::Ne),
                Tok::Nil,
                Tok::Or,
                Tok::True,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn sign_after_value_is_an_operator() {
        assert_eq!(
            toks("x-1"),
            vec![
                Tok::Ident("x".into()),
                Tok::Math(MathOp::Sub),
                Tok::Int(1),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("(-1)"),
            vec![Tok::LParen, Tok::Int(-1), Tok::RParen, Tok::Eof]
        );
        assert_eq!(toks(".5"), vec![Tok::Float(0.5), Tok::Eof]);
    }

    #[test]
    fn keywords_need_word_boundaries() {
        assert_eq!(
            toks("notify android"),
            vec![
                Tok::Ident("notify".into()),
                Tok::Ident("android".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn go_escapes_are_unquoted() {
        assert_eq!(
            toks(r#""\\d{4}\t\x41\u00e9\101""#),
            vec![Tok::Str("\\d{4}\tAéA".into()), Tok::Eof]
        );
    }

    #[test]
    fn lexer_errors_name_the_position() {
        let e = tokenize(r#"IsMatch(body, "\d+")"#).unwrap_err();
        assert_eq!(e.pos, 15);
        assert!(
            e.message.starts_with("invalid escape sequence \"\\d\""),
            "{}",
            e.message
        );
        let e = tokenize(r#"x == "abc"#).unwrap_err();
        assert_eq!(
            (e.pos, e.message.as_str()),
            (5, "unterminated string literal")
        );
        let e = tokenize("x == 0x123").unwrap_err();
        assert_eq!(
            e.message,
            "bytes literal 0x123 has an odd number of hex digits"
        );
        let e = tokenize("x == 'a'").unwrap_err();
        assert_eq!(
            e.message,
            "unexpected character '\\''; OTTL strings use double quotes"
        );
        let e = tokenize("x == 99999999999999999999").unwrap_err();
        assert_eq!(
            e.message,
            "integer literal 99999999999999999999 is out of range"
        );
        assert_eq!(
            tokenize("x # y").unwrap_err().message,
            "unexpected character '#'"
        );
    }
}
