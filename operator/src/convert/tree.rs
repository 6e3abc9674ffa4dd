//! A parsed ecosystem file as a plain tree whose nodes remember where they
//! were written, so that every complaint can name a line and column.

use super::diagnostic::Pos;

/// How deeply values may nest. An ecosystem file is four or five levels
/// deep; the bound keeps every recursive walk of the tree (and the parsers)
/// far from the stack's limit, whatever the input.
pub const MAX_DEPTH: usize = 64;

/// A value and, when the source format provides it, its position.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub pos: Option<Pos>,
}

/// The JSON data model; YAML files are read into it too.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping, in file order.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub key_pos: Option<Pos>,
    pub value: Node,
}

impl Node {
    pub fn new(value: Value, pos: Option<Pos>) -> Self {
        Node { value, pos }
    }

    /// Builds a tree without positions (for input that has none worth
    /// reporting, such as the JSON printed by `node` for a `.js` file).
    pub fn from_json(value: &serde_json::Value) -> Self {
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Node::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_pos: None,
                        value: Node::from_json(v),
                    })
                    .collect(),
            ),
        };
        Node::new(value, None)
    }

    /// The same data as a `serde_json::Value` (positions dropped). Used to
    /// compare values and to check that two parsers agree.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// How the value reads in a message: strings quoted, numbers and
    /// booleans as written, collections by kind.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => js_number(*f),
            Value::Str(s) => format!("{s:?}"),
            Value::List(_) => "a list".to_string(),
            Value::Map(_) => "an object".to_string(),
        }
    }

    /// Levels of lists and objects, counting this one.
    pub fn depth(&self) -> usize {
        match &self.value {
            Value::List(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Value::Map(entries) => 1 + entries.iter().map(|e| e.value.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn same_data(&self, other: &Node) -> bool {
        self.to_json() == other.to_json()
    }
}

/// A number as JavaScript's `String(n)` writes it, which is what PM2 puts
/// into an environment variable: `5000` not `5000.0`.
pub fn js_number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_the_javascript_way() {
        assert_eq!(js_number(5000.0), "5000");
        assert_eq!(js_number(-2.0), "-2");
        assert_eq!(js_number(1.5), "1.5");
    }

    #[test]
    fn json_round_trip_keeps_types() {
        let json: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":[true,null,"x",2.5,-3]}"#).unwrap();
        let node = Node::from_json(&json);
        assert_eq!(node.to_json(), json);
        assert_eq!(node.as_map().unwrap().len(), 2);
    }
}
