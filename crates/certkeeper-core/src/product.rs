//! The catalogue of certificate products an operator offers.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::key::KeyAlgorithm;

/// Maximum leaf validity certkeeper issues, in days (CA/Browser Forum Baseline Requirements
/// §6.3.2 for certificates issued after 2020-09-01).
pub const MAX_VALIDITY_DAYS: u32 = 398;

/// Validity of the default catalogue's paid certificates, in days. The Baseline Requirements
/// allow at most 200 days for certificates issued from 2026-03-15 (pkilint checks it); longer
/// terms are served as consecutive certificates.
pub const PAID_VALIDITY_DAYS: u32 = 199;

/// Validation level of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationLevel {
    Dv,
    Ov,
    Ev,
}

impl ValidationLevel {
    /// Returns `DV`, `OV` or `EV`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationLevel::Dv => "DV",
            ValidationLevel::Ov => "OV",
            ValidationLevel::Ev => "EV",
        }
    }

    /// Returns the CA/Browser Forum reserved certificate policy OID for the level
    /// (Baseline Requirements §7.1.6.1, EV Guidelines §9.7).
    pub fn policy_oid(self) -> &'static str {
        match self {
            ValidationLevel::Dv => "2.23.140.1.2.1",
            ValidationLevel::Ov => "2.23.140.1.2.2",
            ValidationLevel::Ev => "2.23.140.1.1",
        }
    }
}

/// Confirmation method of an owner's revocation request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationPolicy {
    /// The owner proves domain control again (DNS record or file).
    DomainValidation,
    /// The owner sends a signed and stamped letter, and a reviewer decides.
    ConfirmationLetter,
    /// A reviewer decides on the stated reason alone.
    ReviewOnly,
    /// Like the letter flow, with an application form that can be uploaded once.
    ApplicationForm,
}

impl RevocationPolicy {
    /// Returns the configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationPolicy::DomainValidation => "domain-validation",
            RevocationPolicy::ConfirmationLetter => "confirmation-letter",
            RevocationPolicy::ReviewOnly => "review-only",
            RevocationPolicy::ApplicationForm => "application-form",
        }
    }
}

/// One product of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Numeric product code, shown as `PackageType` and used as `ProductId`.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Validation level.
    pub level: ValidationLevel,
    /// Key algorithms a CSR or a generated key may use.
    pub key_algorithms: Vec<KeyAlgorithm>,
    /// Validity of each issued certificate, in days; at most [`MAX_VALIDITY_DAYS`].
    pub validity_days: u32,
    /// Confirmation method of revocation requests.
    pub revocation_policy: RevocationPolicy,
    /// Free products allow one reissue and cannot be deleted within an hour of application.
    #[serde(default)]
    pub free: bool,
    /// Certificates issued before this date cannot be revoked by their owner, only by an
    /// operator. Unset by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_revocation_not_before: Option<Date>,
    /// Issue without domain validation, as internal PKI setups do. Weakens the product: only an
    /// operator should enable it, for names under their own control.
    #[serde(default)]
    pub dangerous_skip_domain_validation: bool,
}

/// Error from a product definition, or from a request the product does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProductError {
    #[error(
        "product {id}: validity_days = {days} is above the maximum of {MAX_VALIDITY_DAYS}; \
         set a value from 1 to {MAX_VALIDITY_DAYS}"
    )]
    ValidityTooLong { id: u32, days: u32 },
    #[error("product {id}: validity_days = 0; set a value from 1 to {MAX_VALIDITY_DAYS}")]
    ValidityZero { id: u32 },
    #[error("product {id}: key_algorithms is empty; list at least one of {}", KeyAlgorithm::accepted_names())]
    NoKeyAlgorithms { id: u32 },
    #[error("product id {id} appears more than once; give each product its own id")]
    DuplicateId { id: u32 },
    #[error("the catalogue has no products; define at least one [[products]] entry")]
    EmptyCatalogue,
    #[error("product {id} ({name}) issues SM2 certificates, which certkeeper cannot issue yet")]
    NotIssuableYet { id: u32, name: String },
    #[error("product {id} ({name}) does not accept {algorithm} keys; it accepts {accepted}")]
    KeyNotAllowed { id: u32, name: String, algorithm: KeyAlgorithm, accepted: String },
    #[error("no product has id {id}; list the catalogue to see the ids")]
    UnknownProduct { id: u32 },
}

impl Product {
    /// Checks the definition's bounds.
    pub fn validate(&self) -> Result<(), ProductError> {
        if self.validity_days == 0 {
            return Err(ProductError::ValidityZero { id: self.id });
        }
        if self.validity_days > MAX_VALIDITY_DAYS {
            return Err(ProductError::ValidityTooLong { id: self.id, days: self.validity_days });
        }
        if self.key_algorithms.is_empty() {
            return Err(ProductError::NoKeyAlgorithms { id: self.id });
        }
        Ok(())
    }

    /// Returns true for SM2 products, which are listed but not issued yet.
    pub fn is_shangmi(&self) -> bool {
        self.key_algorithms.contains(&KeyAlgorithm::Sm2)
    }

    /// Checks that certkeeper can issue this product with a key of `algorithm`.
    pub fn check_issuable(&self, algorithm: KeyAlgorithm) -> Result<(), ProductError> {
        if self.is_shangmi() {
            return Err(ProductError::NotIssuableYet { id: self.id, name: self.name.clone() });
        }
        if !self.key_algorithms.contains(&algorithm) {
            let accepted: Vec<&str> = self.key_algorithms.iter().map(|a| a.name()).collect();
            return Err(ProductError::KeyNotAllowed {
                id: self.id,
                name: self.name.clone(),
                algorithm,
                accepted: accepted.join(", "),
            });
        }
        Ok(())
    }
}

/// The product catalogue, checked for bounds and unique ids.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductCatalogue {
    products: Vec<Product>,
}

/// Product code of the free DV product, the same number as the free TrustAsia DV package in the
/// Tencent API (`PackageType` 83).
pub const FREE_DV_PRODUCT_ID: u32 = 83;

impl ProductCatalogue {
    /// Builds a catalogue after checking each product and the uniqueness of ids.
    pub fn new(products: Vec<Product>) -> Result<Self, ProductError> {
        if products.is_empty() {
            return Err(ProductError::EmptyCatalogue);
        }
        for (index, product) in products.iter().enumerate() {
            product.validate()?;
            if products[..index].iter().any(|earlier| earlier.id == product.id) {
                return Err(ProductError::DuplicateId { id: product.id });
            }
        }
        Ok(ProductCatalogue { products })
    }

    /// Returns the product with `id`.
    pub fn get(&self, id: u32) -> Result<&Product, ProductError> {
        self.products.iter().find(|p| p.id == id).ok_or(ProductError::UnknownProduct { id })
    }

    /// Returns all products in configuration order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// Returns the default catalogue: a free 90-day DV product, paid DV, OV and EV products, a
    /// review-only DV brand, and SM2 DV, OV and EV products that are not issuable yet.
    pub fn default_products() -> Vec<Product> {
        use KeyAlgorithm::*;
        let standard_keys = vec![Rsa2048, Rsa3072, Rsa4096, EcdsaP256, EcdsaP384];
        let product = |id, name: &str, level, keys: &Vec<KeyAlgorithm>, days, policy, free| Product {
            id,
            name: name.to_owned(),
            level,
            key_algorithms: keys.clone(),
            validity_days: days,
            revocation_policy: policy,
            free,
            owner_revocation_not_before: None,
            dangerous_skip_domain_validation: false,
        };
        let free_keys = vec![Rsa2048, EcdsaP256];
        let sm2 = vec![Sm2];
        vec![
            product(FREE_DV_PRODUCT_ID, "Free DV", ValidationLevel::Dv, &free_keys, 90, RevocationPolicy::DomainValidation, true),
            product(1, "DV", ValidationLevel::Dv, &standard_keys, PAID_VALIDITY_DAYS, RevocationPolicy::DomainValidation, false),
            product(2, "OV", ValidationLevel::Ov, &standard_keys, PAID_VALIDITY_DAYS, RevocationPolicy::ConfirmationLetter, false),
            product(3, "EV", ValidationLevel::Ev, &standard_keys, PAID_VALIDITY_DAYS, RevocationPolicy::ConfirmationLetter, false),
            product(4, "DV Reviewed", ValidationLevel::Dv, &standard_keys, PAID_VALIDITY_DAYS, RevocationPolicy::ReviewOnly, false),
            product(20, "SM2 DV", ValidationLevel::Dv, &sm2, PAID_VALIDITY_DAYS, RevocationPolicy::ReviewOnly, false),
            product(21, "SM2 OV", ValidationLevel::Ov, &sm2, PAID_VALIDITY_DAYS, RevocationPolicy::ApplicationForm, false),
            product(22, "SM2 EV", ValidationLevel::Ev, &sm2, PAID_VALIDITY_DAYS, RevocationPolicy::ApplicationForm, false),
        ]
    }
}

impl Default for ProductCatalogue {
    fn default() -> Self {
        // The default products satisfy every check in `new`, which the tests below confirm.
        ProductCatalogue { products: Self::default_products() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_is_valid() {
        let catalogue = ProductCatalogue::new(ProductCatalogue::default_products()).unwrap();
        let free = catalogue.get(FREE_DV_PRODUCT_ID).unwrap();
        assert_eq!(free.validity_days, 90);
        assert!(free.free);
        let levels: Vec<_> = catalogue.products().iter().map(|p| p.level).collect();
        for level in [ValidationLevel::Dv, ValidationLevel::Ov, ValidationLevel::Ev] {
            assert!(levels.contains(&level));
        }
    }

    #[test]
    fn sm2_products_are_not_issuable() {
        let catalogue = ProductCatalogue::default();
        let sm2: Vec<_> = catalogue.products().iter().filter(|p| p.is_shangmi()).collect();
        assert_eq!(sm2.len(), 3);
        for product in sm2 {
            let error = product.check_issuable(KeyAlgorithm::Sm2).unwrap_err();
            assert!(error.to_string().contains("cannot issue yet"), "{error}");
        }
    }

    #[test]
    fn validity_above_limit_is_rejected() {
        let mut products = ProductCatalogue::default_products();
        products[1].validity_days = 399;
        let error = ProductCatalogue::new(products).unwrap_err();
        assert_eq!(error, ProductError::ValidityTooLong { id: 1, days: 399 });
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let mut products = ProductCatalogue::default_products();
        products[2].id = products[1].id;
        assert_eq!(ProductCatalogue::new(products).unwrap_err(), ProductError::DuplicateId { id: 1 });
    }

    #[test]
    fn key_outside_product_is_rejected() {
        let catalogue = ProductCatalogue::default();
        let free = catalogue.get(FREE_DV_PRODUCT_ID).unwrap();
        assert!(free.check_issuable(KeyAlgorithm::EcdsaP256).is_ok());
        let error = free.check_issuable(KeyAlgorithm::Rsa4096).unwrap_err();
        assert!(error.to_string().contains("accepts rsa2048, ecdsa-p256"), "{error}");
    }
}
