//! Parsing JSON with errors that name the offending field.

use crate::{Error, Result};
use serde::de::DeserializeOwned;

/// Parses `json` as `T`; on failure the error names the field, e.g.
/// "invalid `calls[0].value`: invalid quantity: missing 0x prefix".
///
/// ```
/// use sesskey_types::{from_json_str, PrepareCallsParams};
///
/// let err = from_json_str::<PrepareCallsParams>(
///     r#"{"calls":[{"to":"0x0000000000000000000000000000000000000000","value":"12"}],
///        "from":"0x0000000000000000000000000000000000000001","chainId":"0x1"}"#,
/// )
/// .unwrap_err();
/// assert_eq!(err.to_string(), "invalid `calls[0].value`: invalid quantity: missing 0x prefix");
/// ```
pub fn from_json_str<T: DeserializeOwned>(json: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(de).map_err(path_error)?;
    Ok(value)
}

/// Like [`from_json_str`], from an already parsed [`serde_json::Value`].
pub fn from_json_value<T: DeserializeOwned>(json: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(json).map_err(path_error)
}

fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    let message = e.inner().to_string();
    // serde_json appends " at line L column C"; the path already says where.
    let message = match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message,
    };
    match crate::tagged::split_marked(&message) {
        Some((inner, m)) => {
            Error::Json { path: crate::tagged::join(&path, inner), message: m.to_string() }
        }
        None => Error::Json { path, message },
    }
}
