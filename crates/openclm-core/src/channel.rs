//! The channels through which a brand and an HCP interact.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::FieldError;

/// A channel of interaction. The numeric codes are stored on disk and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    FaceToFace = 1,
    RemoteDetail = 2,
    Email = 3,
    Web = 4,
    Banner = 5,
    Webinar = 6,
    Sms = 7,
    DirectMail = 8,
    MedicalInformation = 9,
    Survey = 10,
    MobileApp = 11,
    Crm = 12,
}

impl Channel {
    /// Channels on which the brand sends an item the HCP may open (email, SMS, mail, app push).
    pub fn is_outbound_message(self) -> bool {
        matches!(
            self,
            Channel::Email | Channel::Sms | Channel::DirectMail | Channel::MobileApp
        )
    }

    /// Channels whose interactions happen when someone else schedules them (a rep's visit or
    /// remote detail, a webinar): they say when the brand came, not when the HCP chooses to engage.
    pub fn is_scheduled(self) -> bool {
        matches!(
            self,
            Channel::FaceToFace | Channel::RemoteDetail | Channel::Webinar
        )
    }

    pub const ALL: [Channel; 12] = [
        Channel::FaceToFace,
        Channel::RemoteDetail,
        Channel::Email,
        Channel::Web,
        Channel::Banner,
        Channel::Webinar,
        Channel::Sms,
        Channel::DirectMail,
        Channel::MedicalInformation,
        Channel::Survey,
        Channel::MobileApp,
        Channel::Crm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::FaceToFace => "face_to_face",
            Channel::RemoteDetail => "remote_detail",
            Channel::Email => "email",
            Channel::Web => "web",
            Channel::Banner => "banner",
            Channel::Webinar => "webinar",
            Channel::Sms => "sms",
            Channel::DirectMail => "direct_mail",
            Channel::MedicalInformation => "medical_information",
            Channel::Survey => "survey",
            Channel::MobileApp => "mobile_app",
            Channel::Crm => "crm",
        }
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown channel {text:?}; expected one of {}",
                        names(&Self::ALL)
                    ),
                )
            })
    }
}

pub(crate) fn names<T: fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_code(c.code()), Some(c));
            assert_eq!(Channel::parse("channel", c.as_str()).unwrap(), c);
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn unknown_channel_lists_the_valid_ones() {
        let e = Channel::parse("channel", "pigeon").unwrap_err();
        assert_eq!(e.field, "channel");
        assert!(e.reason.contains("\"pigeon\"") && e.reason.contains("face_to_face"));
    }
}
