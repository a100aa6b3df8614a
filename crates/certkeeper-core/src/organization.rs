//! The organisation named in the subject of OV and EV certificates.

/// Maximum length of a subject attribute, in characters (RFC 5280 upper bounds `ub-*` are 64 or
/// 128; certkeeper applies the smaller one to every attribute).
pub const MAX_ATTRIBUTE_LENGTH: usize = 64;

/// EV `businessCategory` values (EV Guidelines §9.2.3).
pub const BUSINESS_CATEGORIES: [&str; 4] = ["Private Organization", "Government Entity", "Business Entity", "Non-Commercial Entity"];

/// Subject attributes of a verified organisation: O, L, ST and C, and for EV the registration
/// details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationSubject {
    /// organizationName.
    pub organization: String,
    /// localityName (city).
    pub locality: String,
    /// stateOrProvinceName.
    pub state: String,
    /// countryName, an ISO 3166-1 alpha-2 code.
    pub country: String,
    /// The EV attributes; `None` for OV.
    pub ev: Option<EvSubject>,
}

/// Subject attributes that only EV certificates carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvSubject {
    /// businessCategory, one of [`BUSINESS_CATEGORIES`].
    pub business_category: String,
    /// jurisdictionCountryName, an ISO 3166-1 alpha-2 code.
    pub jurisdiction_country: String,
    /// serialNumber: the registration number in the jurisdiction's register.
    pub registration_number: String,
}

/// A subject attribute that cannot go into a certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?} is invalid: {rule}")]
pub struct SubjectError {
    pub field: &'static str,
    pub value: String,
    pub rule: &'static str,
}

/// Returns true for a two-letter upper-case code, the shape of ISO 3166-1 alpha-2.
pub fn is_country_code(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_uppercase())
}

fn check_text(field: &'static str, value: &str) -> Result<(), SubjectError> {
    let error = |rule| Err(SubjectError { field, value: value.to_owned(), rule });
    if value.trim().is_empty() {
        return error("it is empty; give the value as registered");
    }
    if value.trim() != value {
        return error("it starts or ends with white space; remove it");
    }
    if value.chars().count() > MAX_ATTRIBUTE_LENGTH {
        return error("it is longer than 64 characters");
    }
    if value.chars().any(char::is_control) {
        return error("it contains control characters");
    }
    Ok(())
}

fn check_country(field: &'static str, value: &str) -> Result<(), SubjectError> {
    if is_country_code(value) {
        Ok(())
    } else {
        Err(SubjectError { field, value: value.to_owned(), rule: "give a two-letter upper-case ISO 3166-1 code such as DE" })
    }
}

impl OrganizationSubject {
    /// Checks every attribute: non-empty, at most 64 characters, countries as ISO 3166-1
    /// alpha-2 codes and, for EV, a known business category.
    pub fn validate(&self) -> Result<(), SubjectError> {
        check_text("organization", &self.organization)?;
        check_text("locality", &self.locality)?;
        check_text("state", &self.state)?;
        check_country("country", &self.country)?;
        if let Some(ev) = &self.ev {
            if !BUSINESS_CATEGORIES.contains(&ev.business_category.as_str()) {
                return Err(SubjectError {
                    field: "business category",
                    value: ev.business_category.clone(),
                    rule: "use Private Organization, Government Entity, Business Entity or Non-Commercial Entity",
                });
            }
            check_country("jurisdiction country", &ev.jurisdiction_country)?;
            check_text("registration number", &ev.registration_number)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> OrganizationSubject {
        OrganizationSubject {
            organization: "Example GmbH".into(),
            locality: "Berlin".into(),
            state: "Berlin".into(),
            country: "DE".into(),
            ev: Some(EvSubject {
                business_category: "Private Organization".into(),
                jurisdiction_country: "DE".into(),
                registration_number: "HRB 12345".into(),
            }),
        }
    }

    #[test]
    fn complete_subject_is_valid() {
        assert_eq!(subject().validate(), Ok(()));
    }

    #[test]
    fn each_bad_attribute_is_named() {
        #[allow(clippy::type_complexity)] // a table of cases, read once below
        let cases: Vec<(fn(&mut OrganizationSubject), &str)> = vec![
            (|s| s.organization = String::new(), "organization"),
            (|s| s.locality = " Berlin".into(), "locality"),
            (|s| s.state = "x".repeat(65), "state"),
            (|s| s.country = "de".into(), "country"),
            (|s| s.ev.as_mut().unwrap().business_category = "Company".into(), "business category"),
            (|s| s.ev.as_mut().unwrap().jurisdiction_country = "DEU".into(), "jurisdiction country"),
            (|s| s.ev.as_mut().unwrap().registration_number = String::new(), "registration number"),
        ];
        for (change, field) in cases {
            let mut value = subject();
            change(&mut value);
            let error = value.validate().unwrap_err();
            assert_eq!(error.field, field, "{error}");
        }
    }
}
