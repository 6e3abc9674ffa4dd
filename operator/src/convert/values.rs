//! Reading one PM2 option value with PM2's own leniency: numbers may be
//! written as numeric strings (PM2 parses them), `args`-like options may be
//! a string split the way PM2 splits it, `min_uptime` takes `"10s"`. Each
//! reader returns the problem as text; the caller adds file, line and path.

use super::tree::{js_number, Node, Value};

/// A string, as is.
pub fn string(node: &Node) -> Result<String, String> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        _ => Err(format!("expected a string, got {}", node.describe())),
    }
}

/// `true` or `false`; PM2 does not read strings as booleans either.
pub fn boolean(node: &Node) -> Result<bool, String> {
    match node.value {
        Value::Bool(b) => Ok(b),
        _ => Err(format!("expected true or false, got {}", node.describe())),
    }
}

/// A number as PM2 reads it: a JSON number or a numeric string
/// (PM2 `parseFloat`s strings for number options).
fn number(node: &Node) -> Option<f64> {
    match &node.value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => {
            let t = s.trim();
            let numeric = !t.is_empty()
                && t.chars().any(|c| c.is_ascii_digit())
                && t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
            numeric.then(|| t.parse::<f64>().ok()).flatten()
        }
        _ => None,
    }
}

/// A whole number; `unit` names what it counts in the message
/// ("milliseconds", "a count", ...).
pub fn integer(node: &Node, unit: &str) -> Result<i64, String> {
    if let Value::Int(i) = node.value {
        return Ok(i);
    }
    match number(node) {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Some(f) if f.fract() == 0.0 => Err(format!("{} is out of range", node.describe())),
        Some(_) => Err(format!(
            "expected {unit} as a whole number, got {}",
            node.describe()
        )),
        None => Err(format!("expected {unit}, got {}", node.describe())),
    }
}

/// An integer within `min..=max`.
pub fn integer_in(node: &Node, unit: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = integer(node, unit)?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} is out of range: expected {min} to {max} ({unit})"
        ))
    }
}

/// PM2's `min_uptime`: milliseconds as a number (PM2's minimum is 100), or
/// a string `<digits>[h|m|s]` converted with PM2's multipliers.
pub fn duration_ms(node: &Node) -> Result<i64, String> {
    let expected = || {
        format!(
            "expected milliseconds or a duration like \"10s\", \"2m\" or \"1h\", got {}",
            node.describe()
        )
    };
    if number(node).is_some() {
        let ms = integer(node, "milliseconds")?;
        if ms < 100 {
            return Err(format!(
                "{ms} is below PM2's minimum of 100 milliseconds (PM2 refuses it); write \"0s\" for no minimum"
            ));
        }
        return Ok(ms);
    }
    let Value::Str(s) = &node.value else {
        return Err(expected());
    };
    let (digits, unit_ms) = match s.as_bytes().last() {
        Some(b'h') => (&s[..s.len() - 1], 3_600_000),
        Some(b'm') => (&s[..s.len() - 1], 60_000),
        Some(b's') => (&s[..s.len() - 1], 1_000),
        _ => return Err(expected()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected());
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| format!("{s:?} is too long a duration"))
}

/// A list of arguments: a list of strings (numbers and booleans are
/// written out, as a process sees them) or one string split as PM2 splits
/// it (`Config._valid`), which is not how a shell does.
pub fn arguments(node: &Node) -> Result<Vec<String>, String> {
    match &node.value {
        Value::Str(s) => Ok(pm2_split(s)),
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match &item.value {
                Value::Str(s) => Ok(s.clone()),
                Value::Int(n) => Ok(n.to_string()),
                Value::Float(f) => Ok(js_number(*f)),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(format!(
                    "item {i}: expected a string, got {}",
                    item.describe()
                )),
            })
            .collect(),
        _ => Err(format!(
            "expected a list of strings or one string of arguments, got {}",
            node.describe()
        )),
    }
}

/// PM2's `value.split(/([\w\-]+\="[^"]*")|([\w\-]+\='[^']*')|"([^"]*)"|'([^']*)'|\s/)`
/// with empty and blank pieces dropped: whitespace separates; `"..."` and
/// `'...'` group words and lose their quotes; `key="a b"` stays one token
/// with its quotes; an unclosed quote is kept as a character.
pub fn pm2_split(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut piece = String::new();
    let keep = |piece: &str, out: &mut Vec<String>| {
        if !piece.trim_matches(is_js_space).is_empty() {
            out.push(piece.to_string());
        }
    };
    let mut i = 0;
    while i < chars.len() {
        match split_match(&chars, i) {
            Some((end, captured)) => {
                keep(&piece, &mut out);
                piece.clear();
                if let Some(token) = captured {
                    keep(&token, &mut out);
                }
                i = end;
            }
            None => {
                piece.push(chars[i]);
                i += 1;
            }
        }
    }
    keep(&piece, &mut out);
    out
}

/// The regex's alternatives, in order, tried at `at`: the end of the match
/// and the group it captured (`None` for the whitespace separator).
fn split_match(chars: &[char], at: usize) -> Option<(usize, Option<String>)> {
    let word = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    let run = chars[at..].iter().take_while(|c| word(c)).count();
    for quote in ['"', '\''] {
        if run > 0 && chars.get(at + run) == Some(&'=') && chars.get(at + run + 1) == Some(&quote) {
            let open = at + run + 1;
            if let Some(close) = chars[open + 1..].iter().position(|c| *c == quote) {
                let end = open + 1 + close + 1;
                return Some((end, Some(chars[at..end].iter().collect())));
            }
        }
    }
    let c = chars[at];
    if c == '"' || c == '\'' {
        if let Some(close) = chars[at + 1..].iter().position(|d| *d == c) {
            let end = at + 1 + close + 1;
            return Some((end, Some(chars[at + 1..end - 1].iter().collect())));
        }
    }
    is_js_space(c).then_some((at + 1, None))
}

/// JavaScript's `\s`.
fn is_js_space(c: char) -> bool {
    matches!(c, '\u{feff}') || (c.is_whitespace() && c != '\u{85}')
}

/// An environment value as PM2 passes it: strings as is, everything else
/// as JavaScript writes it (`5000`, `true`, objects as JSON).
pub fn env_value(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => s.clone(),
        _ => js_json(node),
    }
}

/// `JSON.stringify`, keeping the file's key order.
fn js_json(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => js_number(*f),
        Value::Float(_) => "null".to_string(),
        Value::Str(s) => serde_json::Value::String(s.clone()).to_string(),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(js_json).collect();
            format!("[{}]", items.join(","))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|e| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(e.key.clone()),
                        js_json(&e.value)
                    )
                })
                .collect();
            format!("{{{}}}", entries.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(json: &str) -> Node {
        Node::from_json(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn integers_accept_numeric_strings_like_pm2() {
        assert_eq!(integer(&n("5000"), "milliseconds"), Ok(5000));
        assert_eq!(integer(&n("\"5000\""), "milliseconds"), Ok(5000));
        assert_eq!(integer(&n("5000.0"), "milliseconds"), Ok(5000));
        assert_eq!(integer(&n("\" 12 \""), "milliseconds"), Ok(12));
        assert_eq!(
            integer(&n("\"soon\""), "milliseconds"),
            Err("expected milliseconds, got \"soon\"".to_string())
        );
        assert_eq!(
            integer(&n("true"), "milliseconds"),
            Err("expected milliseconds, got true".to_string())
        );
        assert!(integer(&n("1.5"), "milliseconds")
            .unwrap_err()
            .contains("whole number"));
        assert!(integer(&n("\"NaN\""), "milliseconds").is_err());
        assert_eq!(
            integer(&n("1e20"), "milliseconds"),
            Err("100000000000000000000 is out of range".to_string())
        );
        assert!(integer(&n("\"inf\""), "milliseconds").is_err());
    }

    #[test]
    fn ranges_name_the_limits() {
        assert_eq!(
            integer_in(&n("0"), "milliseconds", 1, 10),
            Err("0 is out of range: expected 1 to 10 (milliseconds)".to_string())
        );
    }

    #[test]
    fn durations_use_pm2_units() {
        assert_eq!(duration_ms(&n("\"10s\"")), Ok(10_000));
        assert_eq!(duration_ms(&n("\"2m\"")), Ok(120_000));
        assert_eq!(duration_ms(&n("\"1h\"")), Ok(3_600_000));
        assert_eq!(duration_ms(&n("\"0s\"")), Ok(0));
        assert_eq!(duration_ms(&n("1500")), Ok(1500));
        assert_eq!(duration_ms(&n("\"1500\"")), Ok(1500));
        assert!(duration_ms(&n("50"))
            .unwrap_err()
            .contains("minimum of 100"));
        assert!(duration_ms(&n("\"1.5s\"")).is_err());
        assert!(duration_ms(&n("\"10d\"")).is_err());
        assert!(duration_ms(&n("\"s\"")).is_err());
        assert!(duration_ms(&n("true")).is_err());
    }

    #[test]
    fn arguments_split_like_pm2() {
        assert_eq!(
            arguments(&n(r#""--port 80 --name 'my app'""#)),
            Ok(vec![
                "--port".into(),
                "80".into(),
                "--name".into(),
                "my app".into()
            ])
        );
        // Cases checked against PM2's regex in node.
        for (text, split) in [
            (r#"--a='x y' b"#, vec![r#"--a='x y'"#, "b"]),
            (r#"--a="x y" b"#, vec![r#"--a="x y""#, "b"]),
            ("a  b", vec!["a", "b"]),
            ("it's ok", vec!["it's", "ok"]),
            (r#"x"y z"w"#, vec!["x", "y z", "w"]),
            ("a\tb", vec!["a", "b"]),
            (" lead", vec!["lead"]),
            ("'' x", vec!["x"]),
            (r#""unclosed x"#, vec![r#""unclosed"#, "x"]),
            (r#"a.b="c d""#, vec!["a.", r#"b="c d""#]),
            (r#"--x=a"b c""#, vec!["--x=a", "b c"]),
        ] {
            assert_eq!(pm2_split(text), split, "{text}");
        }
        assert_eq!(
            arguments(&n(r#"["-p", 80, true]"#)),
            Ok(vec!["-p".into(), "80".into(), "true".into()])
        );
        assert!(arguments(&n(r#"[{}]"#)).unwrap_err().contains("item 0"));
        assert!(arguments(&n("5")).is_err());
    }

    #[test]
    fn env_values_are_written_like_javascript() {
        assert_eq!(env_value(&n("3000")), "3000");
        assert_eq!(env_value(&n("3000.0")), "3000");
        assert_eq!(env_value(&n("true")), "true");
        assert_eq!(env_value(&n("\"x\"")), "x");
        assert_eq!(env_value(&n("null")), "null");
        assert_eq!(env_value(&n(r#"{"a":[1,"b"]}"#)), r#"{"a":[1,"b"]}"#);
    }
}
