//! The error returned to API clients.
//!
//! Every failure an action can report ends as one [`ApiError`]: a Tencent Cloud API 3.0 error code
//! and a human-readable message. The envelope writes it as
//! `{"Response": {"Error": {"Code": ..., "Message": ...}, "RequestId": ...}}` with HTTP status 200.

use std::fmt;

/// Error codes used by the protocol layer, spelled as Tencent Cloud API 3.0 spells them.
pub mod codes {
    pub const AUTH_FAILURE_INVALID_AUTHORIZATION: &str = "AuthFailure.InvalidAuthorization";
    pub const AUTH_FAILURE_INVALID_SECRET_ID: &str = "AuthFailure.InvalidSecretId";
    pub const AUTH_FAILURE_SECRET_ID_NOT_FOUND: &str = "AuthFailure.SecretIdNotFound";
    pub const AUTH_FAILURE_SIGNATURE_EXPIRE: &str = "AuthFailure.SignatureExpire";
    pub const AUTH_FAILURE_SIGNATURE_FAILURE: &str = "AuthFailure.SignatureFailure";
    pub const AUTH_FAILURE_TOKEN_FAILURE: &str = "AuthFailure.TokenFailure";
    pub const AUTH_FAILURE_UNAUTHORIZED_OPERATION: &str = "AuthFailure.UnauthorizedOperation";
    pub const FAILED_OPERATION: &str = "FailedOperation";
    pub const FAILED_OPERATION_CERTIFICATE_NOT_FOUND: &str = "FailedOperation.CertificateNotFound";
    pub const INTERNAL_ERROR: &str = "InternalError";
    pub const INVALID_ACTION: &str = "InvalidAction";
    pub const INVALID_PARAMETER: &str = "InvalidParameter";
    pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
    pub const MISSING_PARAMETER: &str = "MissingParameter";
    pub const NO_SUCH_VERSION: &str = "NoSuchVersion";
    pub const REQUEST_SIZE_LIMIT_EXCEEDED: &str = "RequestSizeLimitExceeded";
    pub const UNAUTHORIZED_OPERATION: &str = "UnauthorizedOperation";
    pub const UNKNOWN_PARAMETER: &str = "UnknownParameter";
    pub const UNSUPPORTED_OPERATION: &str = "UnsupportedOperation";
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
}

/// An error returned to the client: a Tencent Cloud error code and a message.
///
/// The message is sent to the client verbatim, so it must not contain internal detail such as
/// file paths, SQL or key material. Use [`ApiError::internal`] for failures the client cannot fix,
/// and log the cause on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Error code such as `InvalidParameter` or `FailedOperation.CertificateNotFound`.
    pub code: &'static str,
    /// Message for the client, naming the value at fault and what to change.
    pub message: String,
}

impl ApiError {
    /// Creates an error with any code, for codes without a dedicated constructor.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `InvalidParameter`: the parameter `name` has the wrong type or shape.
    pub fn invalid_parameter(name: &str, detail: impl fmt::Display) -> Self {
        Self::new(
            codes::INVALID_PARAMETER,
            format!("invalid parameter {name}: {detail}"),
        )
    }

    /// `InvalidParameterValue`: the parameter `name` has the right type but an unacceptable value.
    pub fn invalid_parameter_value(name: &str, detail: impl fmt::Display) -> Self {
        Self::new(
            codes::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter {name}: {detail}"),
        )
    }

    /// `MissingParameter`: the required parameter `name` is absent.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            codes::MISSING_PARAMETER,
            format!("missing required parameter {name}"),
        )
    }

    /// `UnknownParameter`: the action does not declare a parameter called `name`.
    pub fn unknown_parameter(name: &str) -> Self {
        Self::new(
            codes::UNKNOWN_PARAMETER,
            format!("unknown parameter {name}: the action does not accept it"),
        )
    }

    /// `InvalidAction`: no action called `action` exists.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            codes::INVALID_ACTION,
            format!("action {action} does not exist for service ssl version 2019-12-05"),
        )
    }

    /// `NoSuchVersion`: the requested API version is not served.
    pub fn no_such_version(version: &str) -> Self {
        Self::new(
            codes::NO_SUCH_VERSION,
            format!("API version {version} does not exist; use X-TC-Version: 2019-12-05"),
        )
    }

    /// `RequestSizeLimitExceeded`: the request body is larger than `limit` bytes.
    pub fn request_size_limit_exceeded(limit: usize) -> Self {
        Self::new(
            codes::REQUEST_SIZE_LIMIT_EXCEEDED,
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    /// `FailedOperation.CertificateNotFound`: no certificate with this ID is visible to the caller.
    pub fn certificate_not_found(certificate_id: &str) -> Self {
        Self::new(
            codes::FAILED_OPERATION_CERTIFICATE_NOT_FOUND,
            format!("certificate {} not found", shorten(certificate_id)),
        )
    }

    /// `UnauthorizedOperation`: the caller's role may not perform this operation.
    pub fn unauthorized_operation(detail: impl fmt::Display) -> Self {
        Self::new(codes::UNAUTHORIZED_OPERATION, detail.to_string())
    }

    /// `UnsupportedOperation`: the request is valid but this service does not implement it.
    pub fn unsupported_operation(detail: impl fmt::Display) -> Self {
        Self::new(codes::UNSUPPORTED_OPERATION, detail.to_string())
    }

    /// `FailedOperation`: the operation was refused for a reason stated in `detail`.
    pub fn failed_operation(detail: impl fmt::Display) -> Self {
        Self::new(codes::FAILED_OPERATION, detail.to_string())
    }

    /// `InternalError` with a generic message. Log the cause before returning this.
    pub fn internal() -> Self {
        Self::new(
            codes::INTERNAL_ERROR,
            "internal error; retry later or report the RequestId to the operator",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::tc3::Tc3Error> for ApiError {
    /// Maps each signature failure to the code Tencent Cloud returns for it.
    fn from(error: crate::tc3::Tc3Error) -> Self {
        use crate::tc3::Tc3Error;

        let code = match &error {
            Tc3Error::MissingAuthorization
            | Tc3Error::InvalidAuthorization(_)
            | Tc3Error::WrongService(_) => codes::AUTH_FAILURE_INVALID_AUTHORIZATION,
            Tc3Error::MissingTimestamp => codes::MISSING_PARAMETER,
            Tc3Error::InvalidTimestamp(_) => codes::INVALID_PARAMETER,
            Tc3Error::Expired { .. } => codes::AUTH_FAILURE_SIGNATURE_EXPIRE,
            Tc3Error::DateMismatch { .. } | Tc3Error::SignatureMismatch => {
                codes::AUTH_FAILURE_SIGNATURE_FAILURE
            }
        };
        Self::new(code, error.to_string())
    }
}

/// Maximum length, in characters, of a client value repeated in full in an error message.
const MAX_ECHOED_CHARS: usize = 64;

/// Returns `value` for an error message: whole up to 64 characters, otherwise its first 64
/// characters and the total length, so a huge parameter is not sent back.
pub fn shorten(value: &str) -> String {
    let count = value.chars().count();
    if count <= MAX_ECHOED_CHARS {
        return value.to_owned();
    }
    let start: String = value.chars().take(MAX_ECHOED_CHARS).collect();
    format!("{start}… ({count} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(shorten("abc"), "abc");
        let long = "x".repeat(100_000);
        let shortened = shorten(&long);
        assert!(shortened.starts_with(&"x".repeat(64)), "{shortened}");
        assert!(shortened.ends_with("… (100000 characters)"), "{shortened}");
        assert!(shortened.chars().count() < 100, "{shortened}");
    }
}
