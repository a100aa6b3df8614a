//! Typed access to the parameters of an action.
//!
//! POST requests carry the parameters as a JSON object in the body. GET requests carry them in the
//! query string, flattened the way the Tencent Cloud SDKs flatten them: array elements get an
//! index (`CertificateStatus.0=1`) and object fields a dotted suffix (`Tags.0.TagKey=a`).
//! [`Params::from_query`] rebuilds those keys into the same JSON shape as a POST body, with every
//! leaf value a string. The typed readers therefore accept numeric strings for integers and
//! `"true"`/`"false"` for booleans, which Tencent's own documentation examples also send in JSON.

mod query;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, codes};

/// The parameters of one request, as a JSON object keyed by parameter name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: Map<String, Value>,
}

impl Params {
    /// Wraps an already parsed parameter object.
    pub fn from_map(values: Map<String, Value>) -> Self {
        Self { values }
    }

    /// Parses a POST body. An empty body means no parameters, and any other body must be a JSON
    /// object.
    pub fn from_json_body(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::new(
                codes::INVALID_PARAMETER,
                format!("request body must be a JSON object: {error}"),
            )
        })?;
        match value {
            Value::Object(values) => Ok(Self { values }),
            other => Err(ApiError::new(
                codes::INVALID_PARAMETER,
                format!(
                    "request body must be a JSON object, got {}",
                    describe(&other)
                ),
            )),
        }
    }

    /// Parses a GET query string and rebuilds flattened keys into nested arrays and objects.
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        query::parse(query).map(Self::from_map)
    }

    /// Rejects the first parameter whose name is not in `declared` with `UnknownParameter`.
    pub fn check_declared(&self, declared: &[&str]) -> Result<(), ApiError> {
        match self
            .values
            .keys()
            .find(|name| !declared.contains(&name.as_str()))
        {
            Some(name) => Err(ApiError::unknown_parameter(name)),
            None => Ok(()),
        }
    }

    /// Returns the parameter object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.values
    }

    /// Returns the raw value of a parameter. JSON `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|value| !value.is_null())
    }

    /// Returns whether the parameter is present and not `null`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Reads a required parameter, with `MissingParameter` when it is absent or `null`.
    pub fn required<T: ParamValue>(&self, name: &str) -> Result<T, ApiError> {
        self.optional(name)?
            .ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// Reads an optional parameter.
    pub fn optional<T: ParamValue>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|value| T::from_param(name, value))
            .transpose()
    }

    /// Reads a required string.
    pub fn required_string(&self, name: &str) -> Result<String, ApiError> {
        self.required(name)
    }

    /// Reads an optional string.
    pub fn optional_string(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.optional(name)
    }

    /// Reads a required signed integer.
    pub fn required_integer(&self, name: &str) -> Result<i64, ApiError> {
        self.required(name)
    }

    /// Reads an optional signed integer.
    pub fn optional_integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.optional(name)
    }

    /// Reads an optional non-negative integer, the `UInt64` of the API reference.
    pub fn optional_unsigned(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.optional(name)
    }

    /// Reads an optional boolean.
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.optional(name)
    }

    /// Reads a required array of strings.
    pub fn required_string_array(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.required(name)
    }

    /// Reads an optional array of strings.
    pub fn optional_string_array(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.optional(name)
    }

    /// Reads an optional array of signed integers.
    pub fn optional_integer_array(&self, name: &str) -> Result<Option<Vec<i64>>, ApiError> {
        self.optional(name)
    }

    /// Deserializes a structured parameter such as `Tags`, with `InvalidParameter` on a shape
    /// mismatch.
    ///
    /// NOTE: GET requests deliver every leaf as a string, so a target type with numeric or
    /// boolean fields rejects GET input unless it accepts strings for them.
    pub fn optional_deserialize<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|value| {
                T::deserialize(value).map_err(|error| ApiError::invalid_parameter(name, error))
            })
            .transpose()
    }
}

/// A type that a parameter value can be read as.
pub trait ParamValue: Sized {
    /// Type name for error messages, with an article: "an integer".
    fn expected() -> String;

    /// Converts the JSON value of parameter `name`, with `InvalidParameter` on a type mismatch.
    fn from_param(name: &str, value: &Value) -> Result<Self, ApiError>;
}

fn type_mismatch<T: ParamValue>(name: &str, value: &Value) -> ApiError {
    ApiError::invalid_parameter(
        name,
        format!("expected {}, got {}", T::expected(), describe(value)),
    )
}

/// Describes a JSON value for an error message, quoting short strings.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) if text.chars().count() <= 40 => format!("the string {text:?}"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Returns whether `text` is an optional `-` followed by ASCII digits only.
fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

impl ParamValue for String {
    fn expected() -> String {
        "a string".to_owned()
    }

    /// Accepts JSON strings, and numbers as their decimal text, because some documented
    /// String parameters hold numbers (`ValidityPeriod`, `PackageType`).
    fn from_param(name: &str, value: &Value) -> Result<Self, ApiError> {
        match value {
            Value::String(text) => Ok(text.clone()),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(type_mismatch::<Self>(name, other)),
        }
    }
}

impl ParamValue for i64 {
    fn expected() -> String {
        "an integer".to_owned()
    }

    fn from_param(name: &str, value: &Value) -> Result<Self, ApiError> {
        let parsed = match value {
            Value::Number(number) => number.as_i64(),
            Value::String(text) if is_decimal(text) => text.parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| type_mismatch::<Self>(name, value))
    }
}

impl ParamValue for u64 {
    fn expected() -> String {
        "a non-negative integer".to_owned()
    }

    fn from_param(name: &str, value: &Value) -> Result<Self, ApiError> {
        let parsed = match value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) if is_decimal(text) => text.parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| type_mismatch::<Self>(name, value))
    }
}

impl ParamValue for bool {
    fn expected() -> String {
        "a boolean".to_owned()
    }

    /// Accepts JSON booleans and the strings `true` and `false` in any case, because the Python
    /// SDK writes `True` and `False` into GET query strings.
    fn from_param(name: &str, value: &Value) -> Result<Self, ApiError> {
        match value {
            Value::Bool(flag) => Ok(*flag),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(type_mismatch::<Self>(name, other)),
        }
    }
}

impl<T: ParamValue> ParamValue for Vec<T> {
    fn expected() -> String {
        let element = T::expected();
        let element = element
            .strip_prefix("an ")
            .or_else(|| element.strip_prefix("a "))
            .unwrap_or(&element);
        format!("an array of {element} values")
    }

    /// Reads each element, naming a faulty element as `Name.<index>`.
    fn from_param(name: &str, value: &Value) -> Result<Self, ApiError> {
        let Value::Array(elements) = value else {
            return Err(type_mismatch::<Self>(name, value));
        };
        elements
            .iter()
            .enumerate()
            .map(|(index, element)| T::from_param(&format!("{name}.{index}"), element))
            .collect()
    }
}

#[cfg(test)]
mod tests;
