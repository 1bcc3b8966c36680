//! Healthcare professionals' master data: identity, external ids and segmentation.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::FieldError;
use crate::event::MAX_ID_LEN;

/// OpenCLM's own id of an HCP: 1–128 bytes of letters, digits and `-_.:@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HcpId(String);

impl HcpId {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        parse_identifier(field, text).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HcpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an identifier used in URLs and files: 1–128 bytes of letters, digits and `-_.:@`.
pub fn parse_identifier(field: &str, text: &str) -> Result<String, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if text.len() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_LEN} bytes"),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(*c)))
    {
        return Err(FieldError::new(
            field,
            format!("must contain only letters, digits and -_.:@ (found {c:?})"),
        ));
    }
    Ok(text.to_owned())
}

/// An HCP's id in another system (CRM, email provider, web analytics ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExternalId {
    pub system: String,
    pub id: String,
}

/// An HCP's master data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hcp {
    pub id: HcpId,
    pub name: String,
    pub specialty: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub territory: Option<String>,
    pub segments: Vec<String>,
    pub email: Option<String>,
    pub external_ids: Vec<ExternalId>,
    /// Products that must not be promoted to this HCP (a trial investigator, an institution's
    /// policy, the HCP's own request); the engine never proposes their content.
    pub restricted_products: Vec<String>,
}

/// HCP master data as a client sends it, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HcpInput {
    pub name: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
    pub territory: Option<String>,
    #[serde(default)]
    pub segments: Vec<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub external_ids: Vec<ExternalId>,
    #[serde(default)]
    pub restricted_products: Vec<String>,
}

impl HcpInput {
    pub fn validate(self, id: &str) -> Result<Hcp, FieldError> {
        let id = HcpId::parse("id", id)?;
        let name = required_text("name", self.name, 200)?;
        let specialty = required_text("specialty", self.specialty, 100)?.to_lowercase();
        let country = required_text("country", self.country, 2)?.to_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(FieldError::new(
                "country",
                "must be a two-letter ISO 3166-1 code such as DE",
            ));
        }
        let territory = self
            .territory
            .filter(|t| !t.trim().is_empty())
            .map(|t| parse_identifier("territory", t.trim()))
            .transpose()?;
        let mut segments = Vec::with_capacity(self.segments.len());
        for (i, s) in self.segments.iter().enumerate() {
            segments.push(parse_identifier(&format!("segments[{i}]"), s.trim())?);
        }
        segments.sort();
        segments.dedup();
        let email = self
            .email
            .filter(|e| !e.trim().is_empty())
            .map(|e| parse_email(e.trim()))
            .transpose()?;
        let mut external_ids = Vec::with_capacity(self.external_ids.len());
        for (i, x) in self.external_ids.into_iter().enumerate() {
            let at = format!("external_ids[{i}]");
            let system = parse_identifier("system", x.system.trim()).map_err(|e| e.within(&at))?;
            let ext = required_text("id", Some(x.id), MAX_ID_LEN).map_err(|e| e.within(&at))?;
            external_ids.push(ExternalId { system, id: ext });
        }
        let mut restricted_products = Vec::with_capacity(self.restricted_products.len());
        for (i, p) in self.restricted_products.iter().enumerate() {
            restricted_products.push(parse_identifier(
                &format!("restricted_products[{i}]"),
                p.trim(),
            )?);
        }
        restricted_products.sort();
        restricted_products.dedup();
        Ok(Hcp {
            id,
            name,
            specialty,
            country,
            territory,
            segments,
            email,
            external_ids,
            restricted_products,
        })
    }
}

fn required_text(field: &str, value: Option<String>, max: usize) -> Result<String, FieldError> {
    let value = value.ok_or_else(|| FieldError::missing(field))?;
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

fn parse_email(text: &str) -> Result<String, FieldError> {
    let valid = text.len() <= 254
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(text.to_lowercase())
    } else {
        Err(FieldError::new(
            "email",
            "must be an email address such as name@example.org",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> HcpInput {
        HcpInput {
            name: Some("Dr. Ada Byron".into()),
            specialty: Some("Cardiology".into()),
            country: Some("de".into()),
            territory: Some("DE-North-1".into()),
            segments: vec!["kol".into(), "early_adopter".into(), "kol".into()],
            email: Some("Ada@Example.org".into()),
            external_ids: vec![ExternalId {
                system: "crm".into(),
                id: "0015g00000XyZ".into(),
            }],
            restricted_products: vec!["cardiozan".into()],
        }
    }

    #[test]
    fn normalizes_what_it_accepts() {
        let h = input().validate("hcp-1").unwrap();
        assert_eq!(h.country, "DE");
        assert_eq!(h.specialty, "cardiology");
        assert_eq!(h.segments, vec!["early_adopter", "kol"]);
        assert_eq!(h.email.as_deref(), Some("ada@example.org"));
    }

    #[test]
    fn names_the_bad_field() {
        let mut i = input();
        i.country = Some("Germany".into());
        assert_eq!(i.validate("hcp-1").unwrap_err().field, "country");
        let mut i = input();
        i.email = Some("not-an-email".into());
        assert_eq!(i.validate("hcp-1").unwrap_err().field, "email");
        let mut i = input();
        i.external_ids[0].system = "has space".into();
        assert_eq!(
            i.validate("hcp-1").unwrap_err().field,
            "external_ids[0].system"
        );
        assert_eq!(input().validate("a/b").unwrap_err().field, "id");
        let i = HcpInput {
            name: None,
            ..input()
        };
        assert_eq!(
            i.validate("x").unwrap_err().to_string(),
            "name: is required"
        );
    }
}
