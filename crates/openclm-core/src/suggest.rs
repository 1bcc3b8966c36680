//! Reps' weekly suggestions: the week they are for, who the rep is and how many HCPs they can
//! see, a suggestion's life (pending → accepted → completed, or dismissed with a reason, or
//! cancelled when its content may no longer be used), and which dismissals teach the engine.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::hcp::parse_identifier;
use crate::{Channel, FieldError, Timestamp};

const DAY_MS: i64 = 86_400_000;

/// An ISO 8601 week (Monday to Sunday, UTC), written `2026-W48`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    /// The Monday that starts it.
    monday: NaiveDate,
}

impl Week {
    /// The week a moment falls in.
    pub fn containing(at: Timestamp) -> Self {
        let date = at.to_datetime().date_naive();
        Self {
            monday: monday_of(date).unwrap_or(date),
        }
    }

    /// The week `weeks` weeks after this one.
    pub fn plus(self, weeks: u32) -> Self {
        Self {
            monday: self
                .monday
                .checked_add_days(chrono::Days::new(7 * u64::from(weeks)))
                .unwrap_or(self.monday),
        }
    }

    /// Reads `2026-W48`, or a date `2026-11-23` meaning the week that contains it.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                format!(
                    "{text:?} is not an ISO week such as 2026-W48 or a date such as 2026-11-23"
                ),
            )
        };
        if let Some((year, week)) = text.split_once("-W") {
            let year: i32 = year.parse().map_err(|_| bad())?;
            let week: u32 = week.parse().map_err(|_| bad())?;
            let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
            if !(1970..=9999).contains(&year) {
                return Err(bad());
            }
            return Ok(Self { monday });
        }
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
        let monday = monday_of(date).ok_or_else(bad)?;
        let week = Self { monday };
        // Timestamps cover 1970 to 9999.
        if week.start().millis() < 0 || week.monday.year() > 9999 {
            return Err(bad());
        }
        Ok(week)
    }

    /// Monday 00:00 UTC.
    pub fn start(self) -> Timestamp {
        let midnight = self.monday.and_hms_opt(0, 0, 0).unwrap_or_default();
        Timestamp::from_millis(midnight.and_utc().timestamp_millis())
    }

    /// The next Monday 00:00 UTC (exclusive).
    pub fn end(self) -> Timestamp {
        Timestamp::from_millis(self.start().millis() + 7 * DAY_MS)
    }
}

/// The Monday on or before a date, if the calendar has it.
fn monday_of(date: NaiveDate) -> Option<NaiveDate> {
    let back = date.weekday().num_days_from_monday();
    date.checked_sub_days(chrono::Days::new(back.into()))
}

impl fmt::Display for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.monday.iso_week();
        write!(f, "{}-W{:02}", iso.year(), iso.week())
    }
}

impl Serialize for Week {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Sent as its text, `2026-W48`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Week {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{4}-W\d{2}$"))
            .examples(["2026-W48"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Week {}

/// A field rep: the territories whose HCPs they see and how many visits a week they can make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rep {
    pub id: String,
    pub name: String,
    pub territories: Vec<String>,
    pub visits_per_week: u32,
}

/// A rep as a client sends it, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepInput {
    pub name: Option<String>,
    #[serde(default)]
    pub territories: Vec<String>,
    pub visits_per_week: Option<u32>,
}

/// Most visits a week a rep can be given.
pub const MAX_VISITS_PER_WEEK: u32 = 200;

impl RepInput {
    pub fn validate(self, id: &str) -> Result<Rep, FieldError> {
        let id = parse_identifier("id", id)?;
        let name = self.name.unwrap_or_default().trim().to_owned();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "is required: 1–200 characters, no control characters",
            ));
        }
        if self.territories.is_empty() {
            return Err(FieldError::new(
                "territories",
                "name at least one territory whose HCPs the rep sees",
            ));
        }
        let mut territories = Vec::with_capacity(self.territories.len());
        for (i, t) in self.territories.iter().enumerate() {
            territories.push(parse_identifier(&format!("territories[{i}]"), t.trim())?);
        }
        territories.sort();
        territories.dedup();
        let visits_per_week = self
            .visits_per_week
            .ok_or_else(|| FieldError::missing("visits_per_week"))?;
        if !(1..=MAX_VISITS_PER_WEEK).contains(&visits_per_week) {
            return Err(FieldError::new(
                "visits_per_week",
                format!("must be between 1 and {MAX_VISITS_PER_WEEK}"),
            ));
        }
        Ok(Rep {
            id,
            name,
            territories,
            visits_per_week,
        })
    }
}

/// Where a suggestion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SuggestionStatus {
    Pending,
    Accepted,
    Dismissed,
    Completed,
    /// Its content or channel may no longer be used (withdrawn, expired, consent withdrawn).
    Cancelled,
}

impl SuggestionStatus {
    pub const ALL: [SuggestionStatus; 5] = [
        SuggestionStatus::Pending,
        SuggestionStatus::Accepted,
        SuggestionStatus::Dismissed,
        SuggestionStatus::Completed,
        SuggestionStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Pending => "pending",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Dismissed => "dismissed",
            SuggestionStatus::Completed => "completed",
            SuggestionStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("unknown status {text:?}; expected one of pending, accepted, dismissed, completed, cancelled"),
                )
            })
    }

    /// Still to be acted on: it holds its place under the caps.
    pub fn is_open(self) -> bool {
        matches!(self, SuggestionStatus::Pending | SuggestionStatus::Accepted)
    }
}

impl fmt::Display for SuggestionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a rep dismissed a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DismissReason {
    /// The content does not fit this HCP.
    NotRelevant,
    /// The HCP has heard this message already.
    AlreadyDiscussed,
    /// The HCP told the rep they do not want it.
    HcpNotInterested,
    /// The HCP cannot be seen this week (leave, congress, ...).
    HcpUnavailable,
    /// The rep has no room this week.
    NoTime,
    Other,
}

impl DismissReason {
    pub const ALL: [DismissReason; 6] = [
        DismissReason::NotRelevant,
        DismissReason::AlreadyDiscussed,
        DismissReason::HcpNotInterested,
        DismissReason::HcpUnavailable,
        DismissReason::NoTime,
        DismissReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DismissReason::NotRelevant => "not_relevant",
            DismissReason::AlreadyDiscussed => "already_discussed",
            DismissReason::HcpNotInterested => "hcp_not_interested",
            DismissReason::HcpUnavailable => "hcp_unavailable",
            DismissReason::NoTime => "no_time",
            DismissReason::Other => "other",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                let all: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                FieldError::new(
                    field,
                    format!(
                        "unknown reason {text:?}; expected one of {}",
                        all.join(", ")
                    ),
                )
            })
    }

    /// Whether the dismissal says something about the action for this HCP, and so counts as a
    /// failed trial of its arm. Logistics (the HCP away, the rep's week full) teach nothing about
    /// the content.
    pub fn teaches(self) -> bool {
        matches!(
            self,
            DismissReason::NotRelevant
                | DismissReason::AlreadyDiscussed
                | DismissReason::HcpNotInterested
        )
    }
}

impl fmt::Display for DismissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rep's feedback on a suggestion, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub status: SuggestionStatus,
    pub reason: Option<DismissReason>,
    /// The rep's words. Free text about an HCP: never logged.
    pub note: Option<String>,
}

/// Feedback as a client sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackInput {
    pub status: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
}

impl FeedbackInput {
    pub fn validate(self) -> Result<Feedback, FieldError> {
        let status = SuggestionStatus::parse(
            "status",
            self.status
                .as_deref()
                .ok_or_else(|| FieldError::missing("status"))?,
        )?;
        if !matches!(
            status,
            SuggestionStatus::Accepted | SuggestionStatus::Dismissed | SuggestionStatus::Completed
        ) {
            return Err(FieldError::new(
                "status",
                "feedback is accepted, dismissed or completed",
            ));
        }
        let reason = self
            .reason
            .as_deref()
            .map(|r| DismissReason::parse("reason", r))
            .transpose()?;
        match (status, reason) {
            (SuggestionStatus::Dismissed, None) => {
                return Err(FieldError::new("reason", "a dismissal needs a reason"));
            }
            (SuggestionStatus::Dismissed, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(FieldError::new("reason", "only a dismissal takes a reason"));
            }
        }
        let note = self
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.len() > 2000) {
            return Err(FieldError::new("note", "must be at most 2000 bytes"));
        }
        Ok(Feedback {
            status,
            reason,
            note,
        })
    }
}

impl SuggestionStatus {
    /// The status after `feedback`, or why the feedback does not apply now.
    pub fn after(self, feedback: &Feedback) -> Result<SuggestionStatus, FieldError> {
        use SuggestionStatus::*;
        let next = feedback.status;
        let allowed = match (self, next) {
            (Pending, Accepted | Dismissed | Completed) => true,
            (Accepted, Dismissed | Completed) => true,
            (a, b) => a == b && a != Cancelled,
        };
        if allowed {
            Ok(next)
        } else {
            Err(FieldError::new(
                "status",
                format!("the suggestion is {self}; it cannot become {next}"),
            ))
        }
    }
}

/// One suggestion of a rep's weekly plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    pub suggestion_id: String,
    pub rep_id: String,
    pub week: Week,
    pub hcp_id: String,
    /// The decision behind it: a call logged with this id credits the engine.
    pub decision_id: String,
    pub channel: Channel,
    /// The lead content, then further key messages for the same call.
    pub content_id: String,
    pub key_messages: Vec<String>,
    /// Expected chance of a response.
    pub score: f64,
    pub explanation: String,
    pub status: SuggestionStatus,
    pub reason: Option<DismissReason>,
    /// Why it was cancelled, when it was.
    pub cancelled_because: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An HCP a rep could see this week.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisitCandidate<'a> {
    pub hcp_id: &'a str,
    /// Expected chance of a response to the chosen rep action (its expected net value when the
    /// engine knows the economics).
    pub score: f64,
    /// The last visit or remote detail, if any.
    pub last_visit: Option<Timestamp>,
}

/// Picks whom a rep should see: the `capacity` HCPs with the highest expected response (to a
/// tenth of a percentage point); among equals, those not seen for longest (never seen first),
/// then by HCP id.
pub fn pick_visits<'a>(candidates: &[VisitCandidate<'a>], capacity: usize) -> Vec<&'a str> {
    let mut order: Vec<VisitCandidate<'a>> = candidates.to_vec();
    let bucket = |score: f64| (score * 1000.0).round() as i64;
    order.sort_by(|a, b| {
        bucket(b.score)
            .cmp(&bucket(a.score))
            .then_with(|| a.last_visit.cmp(&b.last_visit))
            .then_with(|| a.hcp_id.cmp(b.hcp_id))
    });
    order.into_iter().take(capacity).map(|c| c.hcp_id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_read_both_ways_and_span_monday_to_monday() {
        let w = Week::parse("week", "2026-W48").unwrap();
        assert_eq!(w.to_string(), "2026-W48");
        assert_eq!(w.start().to_string(), "2026-11-23T00:00:00.000Z");
        assert_eq!(w.end().to_string(), "2026-11-30T00:00:00.000Z");
        assert_eq!(Week::parse("week", "2026-11-29").unwrap(), w);
        assert_eq!(Week::containing(w.end()).to_string(), "2026-W49");
        // ISO week 1 of 2027 starts in 2027-01-04; 2026-12-31 is in 2026-W53.
        assert_eq!(
            Week::parse("w", "2026-12-31").unwrap().to_string(),
            "2026-W53"
        );
        let e = Week::parse("week", "2026-W60").unwrap_err();
        assert_eq!(e.field, "week");
        assert!(Week::parse("week", "next week").is_err());
        // The calendar's edges are errors, not panics.
        for edge in ["-262143-01-01", "+262142-12-31", "1969-12-29", "0001-W01"] {
            assert_eq!(
                Week::parse("week", edge).unwrap_err().field,
                "week",
                "{edge}"
            );
        }
        assert_eq!(w.plus(5).to_string(), "2026-W53");
        assert_eq!(w.plus(6).to_string(), "2027-W01");
    }

    fn feedback(status: &str, reason: Option<&str>) -> Result<Feedback, FieldError> {
        FeedbackInput {
            status: Some(status.into()),
            reason: reason.map(Into::into),
            note: None,
        }
        .validate()
    }

    #[test]
    fn feedback_moves_a_suggestion_forward_only() {
        use SuggestionStatus::*;
        let accept = feedback("accepted", None).unwrap();
        let done = feedback("completed", None).unwrap();
        let dismiss = feedback("dismissed", Some("not_relevant")).unwrap();
        assert_eq!(Pending.after(&accept).unwrap(), Accepted);
        assert_eq!(Accepted.after(&done).unwrap(), Completed);
        assert_eq!(Accepted.after(&dismiss).unwrap(), Dismissed);
        let e = Completed.after(&dismiss).unwrap_err();
        assert_eq!(
            e.reason,
            "the suggestion is completed; it cannot become dismissed"
        );
        assert!(Cancelled.after(&accept).is_err());
        assert!(Dismissed.after(&accept).is_err());
        // Saying it again is harmless.
        assert_eq!(Completed.after(&done).unwrap(), Completed);
    }

    #[test]
    fn a_dismissal_needs_a_known_reason() {
        assert_eq!(feedback("dismissed", None).unwrap_err().field, "reason");
        let e = feedback("dismissed", Some("meh")).unwrap_err();
        assert!(e.reason.contains("not_relevant"), "{}", e.reason);
        assert_eq!(
            feedback("accepted", Some("no_time")).unwrap_err().field,
            "reason"
        );
        assert_eq!(feedback("cancelled", None).unwrap_err().field, "status");
        assert!(DismissReason::NotRelevant.teaches());
        assert!(!DismissReason::HcpUnavailable.teaches());
    }

    #[test]
    fn visits_go_to_the_highest_expected_response_then_the_longest_unseen() {
        let day = |d: i64| Some(Timestamp::from_millis(d * DAY_MS));
        let c = |hcp_id, score, last_visit| VisitCandidate {
            hcp_id,
            score,
            last_visit,
        };
        let picked = pick_visits(
            &[
                c("a", 0.1, None),
                c("b", 0.4, day(30)),
                c("c", 0.40001, day(10)),
                c("d", 0.3, None),
                c("e", 0.4, None),
            ],
            4,
        );
        assert_eq!(picked, ["e", "c", "b", "d"]);
        assert!(pick_visits(&[c("a", 0.1, None)], 0).is_empty());
    }

    #[test]
    fn reps_need_territories_and_a_capacity() {
        let rep = RepInput {
            name: Some("Ann Rep".into()),
            territories: vec!["DE-N".into(), "DE-N".into()],
            visits_per_week: Some(25),
        }
        .validate("rep-1")
        .unwrap();
        assert_eq!(rep.territories, ["DE-N"]);
        let e = RepInput {
            name: Some("Ann".into()),
            territories: vec![],
            visits_per_week: Some(5),
        }
        .validate("rep-1")
        .unwrap_err();
        assert_eq!(e.field, "territories");
        let e = RepInput {
            name: Some("Ann".into()),
            territories: vec!["T".into()],
            visits_per_week: Some(0),
        }
        .validate("rep-1")
        .unwrap_err();
        assert_eq!(e.field, "visits_per_week");
    }
}
