//! JSON read with every object's keys checked for repeats. serde_json's `Value` keeps the last
//! of a repeated key, so `{"text": "<an adverse event>", "text": "thanks"}` would be stored as the
//! benign text and screened as such; a repeated key at any depth is therefore reported (naming
//! its path) instead of being resolved silently. Reading costs what `serde_json::from_slice`
//! costs: the same single pass, the repeat found by the map insertion that happens anyway.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// Why a text could not be read as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("{0}")]
    Syntax(String),
    /// A key that appears twice in one object, by its path (`text`, `properties.plan`,
    /// `items[2].id`).
    #[error("the key {0} appears twice in one object")]
    RepeatedKey(String),
}

/// The reason given for a repeated key, naming no value (either could be personal data).
pub const REPEATED_KEY_REASON: &str =
    "appears more than once in the same object; each key may be given once";

/// Reads one JSON value, refusing a repeated key anywhere in it.
pub fn from_slice(bytes: &[u8]) -> Result<Value, JsonError> {
    let repeated = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict::root(&repeated)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| JsonError::Syntax(e.to_string()))?;
    match repeated.into_inner() {
        Some(path) => Err(JsonError::RepeatedKey(path)),
        None => Ok(value),
    }
}

/// A request body that is one JSON object or an array of values, each element checked on its
/// own, so that a repeated key in one element costs only that element.
pub(crate) enum Body {
    Object(Result<Value, String>),
    Array(Vec<Result<Value, String>>),
    /// Neither an object nor an array.
    Other,
}

/// Reads a body as [`Body`]; `Err` only when it is not JSON at all.
pub(crate) fn body_from_slice(bytes: &[u8]) -> Result<Body, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let body = BodySeed
        .deserialize(&mut de)
        .and_then(|b| de.end().map(|()| b))
        .map_err(|e| e.to_string())?;
    Ok(body)
}

/// Where a value sits in the document, built on the stack as the reader descends; rendered only
/// when a repeat is found.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => write!(f, "{key}"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Reads a value as `serde_json::Value` does, noting the first repeated key's path.
struct Strict<'p> {
    path: Path<'p>,
    repeated: &'p RefCell<Option<String>>,
}

impl<'p> Strict<'p> {
    fn root(repeated: &'p RefCell<Option<String>>) -> Self {
        Self {
            path: Path::Root,
            repeated,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no non-finite numbers; serde_json reads them as null.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Strict {
            path: Path::Index(&self.path, items.len()),
            repeated: self.repeated,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict {
                path: Path::Key(&self.path, &key),
                repeated: self.repeated,
            })?;
            match object.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    let mut repeated = self.repeated.borrow_mut();
                    if repeated.is_none() {
                        *repeated = Some(Path::Key(&self.path, slot.key()).to_string());
                    }
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// The top of a request body: an object, or an array whose elements are read one by one.
struct BodySeed;

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = Body;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Body, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// One element read on its own: its value, or the path of its first repeated key.
fn element(value: Value, repeated: RefCell<Option<String>>) -> Result<Value, String> {
    match repeated.into_inner() {
        Some(path) => Err(path),
        None => Ok(value),
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let repeated = RefCell::new(None);
            match seq.next_element_seed(Strict::root(&repeated))? {
                Some(value) => items.push(element(value, repeated)),
                None => return Ok(Body::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Body, A::Error> {
        let repeated = RefCell::new(None);
        let value = Strict::root(&repeated).visit_map(map)?;
        Ok(Body::Object(element(value, repeated)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Body, E> {
        Ok(Body::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Body, E> {
        Ok(Body::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Body, E> {
        Ok(Body::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Body, E> {
        Ok(Body::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Body, E> {
        Ok(Body::Other)
    }

    fn visit_unit<E>(self) -> Result<Body, E> {
        Ok(Body::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_named_by_its_path_at_any_depth() {
        let read = |text: &str| from_slice(text.as_bytes());
        assert_eq!(
            read(r#"{"text": "bad", "text": "fine"}"#),
            Err(JsonError::RepeatedKey("text".into()))
        );
        assert_eq!(
            read(r#"{"a": {"b": [1, {"c": 1, "c": 2}]}}"#),
            Err(JsonError::RepeatedKey("a.b[1].c".into()))
        );
        // The same key in sibling objects is no repeat; values read as serde_json reads them.
        let text =
            r#"{"a": {"k": 1.5}, "b": {"k": -2}, "c": [null, true, "x", 18446744073709551615]}"#;
        assert_eq!(
            read(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(matches!(read("{"), Err(JsonError::Syntax(_))));
    }

    #[test]
    fn a_body_array_keeps_its_sound_elements_beside_one_with_a_repeated_key() {
        let Ok(Body::Array(items)) = body_from_slice(br#"[{"a": 1}, {"a": 1, "a": 2}, 7]"#) else {
            panic!("an array");
        };
        assert_eq!(items[0], Ok(serde_json::json!({"a": 1})));
        assert_eq!(items[1], Err("a".to_owned()));
        assert_eq!(items[2], Ok(serde_json::json!(7)));
        assert!(matches!(
            body_from_slice(br#"{"x": {"y": 1, "y": 1}}"#),
            Ok(Body::Object(Err(path))) if path == "x.y"
        ));
        assert!(matches!(body_from_slice(b"42"), Ok(Body::Other)));
        assert!(body_from_slice(b"[1,").is_err());
    }
}
