//! The data PM2 reads from a `.json` file. PM2 evaluates it as a
//! JavaScript expression, so comments, trailing commas, unquoted keys,
//! single quotes, hex numbers and the like all work; this parser reads that
//! JSON5-level subset natively and keeps every value's position. Whatever
//! it refuses (an expression such as `process.env.PORT`) is handed to node
//! by the caller.

use super::diagnostic::Pos;
use super::tree::{Entry, Node, Value, MAX_DEPTH};

/// Why the text was not read.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    /// The text is JavaScript beyond JSON5 (an identifier, an operator):
    /// evaluating it, as PM2 does, may still succeed.
    pub needs_evaluation: bool,
}

/// Keys written twice in one object: JavaScript keeps the last one.
#[derive(Debug)]
pub struct Duplicate {
    pub key: String,
    pub pos: Pos,
}

pub fn parse(text: &str) -> Result<(Node, Vec<Duplicate>), SyntaxError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
        column: 1,
        depth: 0,
        duplicates: Vec::new(),
    };
    p.skip_blank()?;
    if p.peek().is_none() {
        return Err(p.error("the file is empty: expected an ecosystem ({ apps: [...] })"));
    }
    let node = p.value()?;
    p.skip_blank()?;
    if p.peek().is_some() {
        return Err(p.evaluate("unexpected text after the value"));
    }
    Ok((node, p.duplicates))
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
    depth: usize,
    duplicates: Vec<Duplicate>,
}

impl Parser {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        // \r\n is one line break; a lone \r, U+2028 and U+2029 are too.
        let breaks =
            matches!(c, '\n' | '\u{2028}' | '\u{2029}') || (c == '\r' && self.peek() != Some('\n'));
        if breaks {
            self.line += 1;
            self.column = 1;
        } else if c != '\r' {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            pos: self.pos(),
            message: message.into(),
            needs_evaluation: false,
        }
    }

    fn evaluate(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            needs_evaluation: true,
            ..self.error(message)
        }
    }

    /// Whitespace (JavaScript's) and comments.
    fn skip_blank(&mut self) -> Result<(), SyntaxError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if is_js_space(c) => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while self
                        .peek()
                        .is_some_and(|c| !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'))
                    {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                            None => {
                                return Err(SyntaxError {
                                    pos: start,
                                    message: "this /* comment is never closed with */".into(),
                                    needs_evaluation: false,
                                })
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        let pos = self.pos();
        let value = match self.peek() {
            Some('{') => self.nested(Self::object)?,
            Some('[') => self.nested(Self::array)?,
            Some(q @ ('"' | '\'')) => Value::Str(self.string(q)?),
            Some(c) if c.is_ascii_digit() || matches!(c, '.' | '+' | '-') => self.number()?,
            Some(c) if is_ident_start(c) => {
                let word = self.identifier();
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    "Infinity" => Value::Float(f64::INFINITY),
                    "NaN" => Value::Float(f64::NAN),
                    // `undefined` is also an expression; node turns it into "unset".
                    _ => {
                        return Err(SyntaxError {
                            pos,
                            message: format!(
                                "`{word}` is JavaScript, not a value: it needs evaluation"
                            ),
                            needs_evaluation: true,
                        })
                    }
                }
            }
            Some(c) => return Err(self.evaluate(format!("unexpected {c:?}: expected a value"))),
            None => return Err(self.error("the text ends where a value was expected")),
        };
        Ok(Node::new(value, Some(pos)))
    }

    fn nested(
        &mut self,
        read: fn(&mut Self) -> Result<Value, SyntaxError>,
    ) -> Result<Value, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "nested more than {MAX_DEPTH} levels deep here: an ecosystem file is a few levels deep"
            )));
        }
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn object(&mut self) -> Result<Value, SyntaxError> {
        self.bump(); // {
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some('}') {
                self.bump();
                return Ok(Value::Map(entries));
            }
            let key_pos = self.pos();
            let key = match self.peek() {
                Some(q @ ('"' | '\'')) => self.string(q)?,
                Some(c) if is_ident_start(c) => self.identifier(),
                Some(c) if c.is_ascii_digit() => match self.number()? {
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => super::tree::js_number(f),
                    _ => unreachable!("number() reads numbers"),
                },
                Some(c) => {
                    return Err(self.evaluate(format!("unexpected {c:?}: expected a key or '}}'")))
                }
                None => return Err(self.error("the text ends inside an object: '}' is missing")),
            };
            self.skip_blank()?;
            if self.peek() != Some(':') {
                return Err(self.evaluate(format!("expected ':' after the key {key:?}")));
            }
            self.bump();
            self.skip_blank()?;
            let value = self.value()?;
            if !seen.insert(key.clone()) {
                self.duplicates.push(Duplicate {
                    key: key.clone(),
                    pos: key_pos,
                });
                entries.retain(|e| e.key != key);
            }
            entries.push(Entry {
                key,
                key_pos: Some(key_pos),
                value,
            });
            self.skip_blank()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {}
                Some(c) => return Err(self.evaluate(format!("expected ',' or '}}', got {c:?}"))),
                None => return Err(self.error("the text ends inside an object: '}' is missing")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, SyntaxError> {
        self.bump(); // [
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(Value::List(items));
                }
                // `[1,,2]` has a hole: JavaScript's own business.
                Some(',') => return Err(self.evaluate("an empty item in a list")),
                _ => {}
            }
            items.push(self.value()?);
            self.skip_blank()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {}
                Some(c) => return Err(self.evaluate(format!("expected ',' or ']', got {c:?}"))),
                None => return Err(self.error("the text ends inside a list: ']' is missing")),
            }
        }
    }

    fn identifier(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek().filter(|c| is_ident_part(*c)) {
            word.push(c);
            self.bump();
        }
        word
    }

    fn string(&mut self, quote: char) -> Result<String, SyntaxError> {
        let start = self.pos();
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(SyntaxError {
                    pos: start,
                    message: format!("this string is never closed with {quote}"),
                    needs_evaluation: false,
                });
            };
            match c {
                c if c == quote => return Ok(out),
                '\n' | '\r' => {
                    return Err(SyntaxError {
                        pos: start,
                        message: format!("this string is not closed with {quote} on its line"),
                        needs_evaluation: false,
                    })
                }
                '\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        let pos = self.pos();
        let bad = |what: &str| SyntaxError {
            pos,
            message: format!("a bad escape: {what}"),
            needs_evaluation: false,
        };
        let Some(c) = self.bump() else {
            return Err(bad("the text ends after \\"));
        };
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => out.push('\0'),
            // A backslash before a line break continues the string.
            '\r' => {
                if self.peek() == Some('\n') {
                    self.bump();
                }
            }
            '\n' | '\u{2028}' | '\u{2029}' => {}
            'x' => {
                let code = self
                    .hex_digits(2)
                    .ok_or_else(|| bad("\\x needs 2 hex digits"))?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            'u' => {
                let high = self
                    .unicode_unit()
                    .ok_or_else(|| bad("\\u needs 4 hex digits"))?;
                let code = if (0xD800..0xDC00).contains(&high)
                    && self.peek() == Some('\\')
                    && self.peek_at(1) == Some('u')
                {
                    let save = (self.at, self.line, self.column);
                    self.bump();
                    self.bump();
                    match self.unicode_unit() {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        }
                        _ => {
                            (self.at, self.line, self.column) = save;
                            high
                        }
                    }
                } else {
                    high
                };
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            c if c.is_ascii_digit() => {
                return Err(SyntaxError {
                    needs_evaluation: true,
                    ..bad("an octal escape")
                })
            }
            // Any other character stands for itself, as in JavaScript.
            c => out.push(c),
        }
        Ok(())
    }

    fn unicode_unit(&mut self) -> Option<u32> {
        if self.peek() == Some('{') {
            self.bump();
            let mut code = 0u32;
            let mut digits = 0;
            while let Some(d) = self.peek().and_then(|c| c.to_digit(16)) {
                code = code.checked_mul(16)?.checked_add(d)?;
                digits += 1;
                self.bump();
            }
            (digits > 0 && self.bump() == Some('}')).then_some(code)
        } else {
            self.hex_digits(4)
        }
    }

    fn hex_digits(&mut self, n: usize) -> Option<u32> {
        let mut code = 0;
        for _ in 0..n {
            code = code * 16 + self.peek()?.to_digit(16)?;
            self.bump();
        }
        Some(code)
    }

    /// A JavaScript number literal with an optional sign; integral values
    /// become `Int`, as `JSON.stringify` would write them.
    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos();
        let negative = match self.peek() {
            Some('-') => {
                self.bump();
                true
            }
            Some('+') => {
                self.bump();
                false
            }
            _ => false,
        };
        let mut text = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
        {
            text.push(c);
            self.bump();
            // An exponent's sign belongs to the number.
            if matches!(c, 'e' | 'E')
                && !text.starts_with("0x")
                && !text.starts_with("0X")
                && matches!(self.peek(), Some('+' | '-'))
            {
                text.extend(self.bump());
            }
        }
        let not_a_number = || SyntaxError {
            pos: start,
            message: format!("{text:?} is not a number"),
            needs_evaluation: true,
        };
        let magnitude = if text == "Infinity" {
            f64::INFINITY
        } else if let Some(radix) = radix_of(&text) {
            let digits = &text[2..];
            u64::from_str_radix(digits, radix)
                .map(|n| n as f64)
                .map_err(|_| not_a_number())?
        } else if text.len() > 1 && text.starts_with('0') && text.as_bytes()[1].is_ascii_digit() {
            // `010` is octal in sloppy JavaScript: node decides.
            return Err(not_a_number());
        } else if text.contains('_') || !text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        {
            return Err(not_a_number());
        } else {
            text.parse::<f64>().map_err(|_| not_a_number())?
        };
        let f = if negative { -magnitude } else { magnitude };
        Ok(
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                Value::Int(f as i64)
            } else {
                Value::Float(f)
            },
        )
    }
}

fn radix_of(text: &str) -> Option<u32> {
    match text.get(..2)? {
        "0x" | "0X" => Some(16),
        "0o" | "0O" => Some(8),
        "0b" | "0B" => Some(2),
        _ => None,
    }
}

/// JavaScript's WhiteSpace and LineTerminator.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{b}'
            | '\u{c}'
            | '\r'
            | ' '
            | '\u{a0}'
            | '\u{feff}'
            | '\u{2028}'
            | '\u{2029}'
    ) || (c.is_whitespace() && c != '\u{85}')
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '$' | '_')
}

fn is_ident_part(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '$' | '_' | '\u{200c}' | '\u{200d}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> serde_json::Value {
        parse(text)
            .map(|(n, _)| n.to_json())
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn reads_what_pm2_writes_in_json_files() {
        let text = "// ecosystem\n{\n  apps: [{\n    name: 'web', /* inline */\n    \"script\": \"a.js\",\n    \
                    instances: +2, kill_timeout: 0x10, listen_timeout: 1e3, ratio: .5,\n  },],\n}\n";
        assert_eq!(
            read(text),
            serde_json::json!({"apps": [{"name": "web", "script": "a.js", "instances": 2,
                "kill_timeout": 16, "listen_timeout": 1000, "ratio": 0.5}]})
        );
    }

    #[test]
    fn strings_take_javascript_escapes() {
        assert_eq!(read(r#"'it\'s \x41\u0042\u{43} "q"'"#), "it's ABC \"q\"");
        assert_eq!(read("\"a\\\nb\""), "ab");
        assert_eq!(read(r#""\ud83d\ude00""#), "😀");
    }

    #[test]
    fn positions_count_characters_and_lines() {
        let (node, _) = parse("{\n\té: 1, b: 'x'\n}").unwrap();
        let map = node.as_map().unwrap();
        assert_eq!(map[1].key_pos, Some(Pos { line: 2, column: 8 }));
        assert_eq!(
            map[1].value.pos,
            Some(Pos {
                line: 2,
                column: 11
            })
        );
    }

    #[test]
    fn expressions_are_left_to_node() {
        for text in [
            "{port: process.env.PORT}",
            "{a: 1 + 1}",
            "{a: `x`}",
            "{a: 010}",
            "[1,,2]",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.needs_evaluation, "{text}: {err:?}");
        }
        let err = parse("{a: 'x}").unwrap_err();
        assert!(!err.needs_evaluation);
        assert_eq!(err.pos, Pos { line: 1, column: 5 });
        let err = parse("{a: 1 /* x").unwrap_err();
        assert_eq!(err.pos, Pos { line: 1, column: 7 });
    }

    #[test]
    fn the_last_of_two_equal_keys_wins_and_is_reported() {
        let (node, dups) = parse("{a: 1, a: 2}").unwrap();
        assert_eq!(node.to_json(), serde_json::json!({"a": 2}));
        assert_eq!(dups[0].key, "a");
        assert_eq!(dups[0].pos, Pos { line: 1, column: 8 });
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(7000) + &"]".repeat(7000);
        let err = parse(&deep).unwrap_err();
        assert!(err.message.contains("nested more than"), "{err:?}");
        assert_eq!(err.pos.column, MAX_DEPTH + 1);
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }
}
