//! Splitting an ingest request body (a JSON object, a JSON array, or NDJSON) into events, each
//! parsed on its own so that one bad event never costs the others. A key repeated in an event is
//! refused, never resolved (see [`crate::json`]).

use serde_json::Value;

use crate::json::{self, Body, JsonError};
use crate::{Event, FieldError};

/// How the body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// One JSON object, or an array of them.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// One event of a batch: its position, its id when one could be read, and the parse outcome.
#[derive(Debug)]
pub struct BatchItem {
    pub index: usize,
    pub event_id: Option<String>,
    pub parsed: Result<Event, FieldError>,
}

/// Why a whole body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object, an array of objects, or NDJSON")]
    WrongShape,
    #[error("the batch holds {count} events; at most {limit} are accepted per request")]
    TooManyEvents { count: usize, limit: usize },
    #[error("the batch holds no events")]
    Empty,
    /// The body is a single event in which a key appears twice (in an array or NDJSON, only
    /// that event is refused).
    #[error("{field}: {}", crate::json::REPEATED_KEY_REASON)]
    RepeatedKey { field: String },
}

/// An event whose key `path` appears twice.
fn repeated_key(path: String) -> FieldError {
    FieldError::new(path, crate::json::REPEATED_KEY_REASON)
}

/// Parses a body into its events, refusing it whole only when it cannot be split at all.
pub fn parse_batch(
    body: &[u8],
    format: BatchFormat,
    max_events: usize,
) -> Result<Vec<BatchItem>, BatchError> {
    let values: Vec<Result<Value, FieldError>> = match format {
        BatchFormat::Json => match json::body_from_slice(body) {
            Ok(Body::Array(items)) => items
                .into_iter()
                .map(|item| item.map_err(repeated_key))
                .collect(),
            Ok(Body::Object(Ok(object))) => vec![Ok(object)],
            Ok(Body::Object(Err(field))) => return Err(BatchError::RepeatedKey { field }),
            Ok(Body::Other) => return Err(BatchError::WrongShape),
            Err(e) => return Err(BatchError::NotJson(e)),
        },
        BatchFormat::Ndjson => {
            let mut values = Vec::new();
            for (line_no, line) in body.split(|b| *b == b'\n').enumerate() {
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                if values.len() == max_events {
                    return Err(BatchError::TooManyEvents {
                        count: values.len() + 1,
                        limit: max_events,
                    });
                }
                values.push(json::from_slice(line).map_err(|e| match e {
                    JsonError::RepeatedKey(path) => repeated_key(path),
                    JsonError::Syntax(e) => FieldError::new(
                        "event",
                        format!("line {} is not valid JSON: {e}", line_no + 1),
                    ),
                }));
            }
            values
        }
    };
    if values.is_empty() {
        return Err(BatchError::Empty);
    }
    if values.len() > max_events {
        return Err(BatchError::TooManyEvents {
            count: values.len(),
            limit: max_events,
        });
    }
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let event_id = value
                .as_ref()
                .ok()
                .and_then(|v| v.get("event_id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            BatchItem {
                index,
                event_id,
                parsed: value.and_then(Event::from_json),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"event_id":"a","occurred_at":"2026-01-01T00:00:00Z","hcp":"H","channel":"web","type":"content_viewed"}"#;

    #[test]
    fn ndjson_keeps_good_lines_next_to_bad_ones() {
        let body = format!("{GOOD}\n{{not json\n\n{GOOD}\n");
        let items = parse_batch(body.as_bytes(), BatchFormat::Ndjson, 10).unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].parsed.is_ok());
        let err = items[1].parsed.as_ref().unwrap_err();
        assert!(err.reason.starts_with("line 2 is not valid JSON"));
        assert_eq!(items[2].index, 2);
        assert_eq!(items[2].event_id.as_deref(), Some("a"));
    }

    #[test]
    fn a_repeated_key_refuses_its_event_and_keeps_the_others() {
        let twice = r#"{"event_id":"b","occurred_at":"2026-01-01T00:00:00Z","hcp":"H","channel":"web","type":"comment","text":"x","text":"y"}"#;
        for (body, format) in [
            (format!("[{GOOD},{twice}]"), BatchFormat::Json),
            (format!("{GOOD}\n{twice}\n"), BatchFormat::Ndjson),
        ] {
            let items = parse_batch(body.as_bytes(), format, 10).unwrap();
            assert!(items[0].parsed.is_ok());
            let err = items[1].parsed.as_ref().unwrap_err();
            assert_eq!(err.field, "text", "{format:?}");
            assert!(err.reason.contains("more than once"), "{}", err.reason);
        }
        assert_eq!(
            parse_batch(twice.as_bytes(), BatchFormat::Json, 10).unwrap_err(),
            BatchError::RepeatedKey {
                field: "text".into()
            }
        );
    }

    #[test]
    fn a_json_array_or_object_is_accepted_and_limits_hold() {
        assert_eq!(
            parse_batch(GOOD.as_bytes(), BatchFormat::Json, 1)
                .unwrap()
                .len(),
            1
        );
        let arr = format!("[{GOOD},{GOOD},7]");
        let items = parse_batch(arr.as_bytes(), BatchFormat::Json, 3).unwrap();
        assert_eq!(
            items[2].parsed.as_ref().unwrap_err().reason,
            "must be a JSON object"
        );
        assert_eq!(
            parse_batch(arr.as_bytes(), BatchFormat::Json, 2).unwrap_err(),
            BatchError::TooManyEvents { count: 3, limit: 2 }
        );
        assert_eq!(
            parse_batch(b"[]", BatchFormat::Json, 2).unwrap_err(),
            BatchError::Empty
        );
        assert_eq!(
            parse_batch(b"42", BatchFormat::Json, 2).unwrap_err(),
            BatchError::WrongShape
        );
        assert!(matches!(
            parse_batch(b"{", BatchFormat::Json, 2),
            Err(BatchError::NotJson(_))
        ));
    }
}
