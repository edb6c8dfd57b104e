//! Deserializing `type`-tagged unions so that errors keep the path to the bad field.
//!
//! serde's derived internally-tagged enums buffer their content and lose the path inside it;
//! these helpers read the tag, then deserialize the variant with `serde_path_to_error` and carry
//! the inner path out in the message, where [`crate::from_json_str`] joins it to the outer one.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A message that carries an inner path reads ``at `path`: message``, readable as it is
/// wherever it ends up, and split again by [`split_marked`].
pub(crate) fn marked(path: &str, message: &str) -> String {
    format!("at `{path}`: {message}")
}

/// Splits a [`marked`] message into its path and message.
pub(crate) fn split_marked(message: &str) -> Option<(&str, &str)> {
    message.strip_prefix("at `")?.split_once("`: ")
}

/// Deserializes `value` as `T`, turning an error into one whose message carries the inner path.
pub(crate) fn nested<T: DeserializeOwned, E: serde::de::Error>(value: Value) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let path = e.path().to_string();
        // An already nested message keeps its own path, under ours.
        match split_marked(&inner) {
            Some((p, m)) => E::custom(marked(&join(&path, p), m)),
            None => E::custom(marked(&path, &inner)),
        }
    })
}

/// Like [`nested`], for a value found at `at` (a field name) inside the current one.
pub(crate) fn nested_at<T: DeserializeOwned, E: serde::de::Error>(
    value: Value,
    at: &str,
) -> Result<T, E> {
    nested::<T, serde_json::Error>(value).map_err(|e| {
        let msg = e.to_string();
        match split_marked(&msg) {
            Some((p, m)) => E::custom(marked(&join(at, p), m)),
            None => E::custom(marked(at, &msg)),
        }
    })
}

/// Joins two serde_path_to_error paths (`.` is the root).
pub(crate) fn join(outer: &str, inner: &str) -> String {
    match (outer, inner) {
        (".", i) => i.to_string(),
        (o, ".") => o.to_string(),
        (o, i) if i.starts_with('[') => format!("{o}{i}"),
        (o, i) => format!("{o}.{i}"),
    }
}

/// Reads a tagged object: answers the tag and the object (tag included).
pub(crate) fn split_tag<E: serde::de::Error>(
    value: Value,
    tag: &'static str,
) -> Result<(String, Map<String, Value>), E> {
    let Value::Object(map) = value else {
        return Err(E::custom(format!("expected an object with a `{tag}` field")));
    };
    let ty = match map.get(tag) {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(E::custom(format!("`{tag}` must be a string"))),
        None => return Err(E::missing_field(tag)),
    };
    Ok((ty, map))
}

/// Implements `Deserialize` for an internally tagged (`type`) enum of newtype variants.
macro_rules! tagged_deserialize {
    ($ty:ident { $($name:literal => $variant:ident($inner:ty)),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                let (tag, map) = crate::tagged::split_tag::<D::Error>(value, "type")?;
                match tag.as_str() {
                    $($name => crate::tagged::nested::<$inner, D::Error>(serde_json::Value::Object(map)).map(Self::$variant),)+
                    other => Err(<D::Error as serde::de::Error>::unknown_variant(other, &[$($name),+])),
                }
            }
        }
    };
}

pub(crate) use tagged_deserialize;
