//! Campaigns: a brand's planned effort on a target list, in waves, measured against a randomized
//! holdout.
//!
//! A campaign names its product, what counts as a response and what is the outcome (by default
//! engaged reactions and prescriptions), its target (a list of HCPs or a filter on specialty,
//! country and territory), its arms (a fixed content × channel, or "let the engine choose"),
//! the share of the target held out, the waves (when decisions are made), the cost of a touch
//! per channel, the value of an outcome unit and the attribution window. Every wave's actions
//! are the decision engine's, so every hard constraint holds.
//!
//! Assignment is a pure function of the campaign's id and the HCP's id ([`crate::measure`]): the
//! same on every node and after every restart, so nothing about it needs to be stored to stay
//! right — it is stored to be reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hcp::parse_identifier;
use crate::measure::holdout_draw;
use crate::{Channel, EventType, FieldError, Timestamp};

const DAY_MS: i64 = 86_400_000;

/// A campaign as written by a marketer (JSON from the API, YAML or JSON from a file).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub product: Option<String>,
    pub description: Option<String>,
    // Absent, the nested inputs read as empty ones; their schemas show no default object.
    #[cfg_attr(feature = "openapi", schema(default))]
    pub objective: ObjectiveInput,
    #[cfg_attr(feature = "openapi", schema(default))]
    pub target: TargetInput,
    #[cfg_attr(feature = "openapi", schema(default))]
    pub arms: Vec<ArmInput>,
    pub holdout_share: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(default))]
    pub waves: Vec<WaveInput>,
    pub cost_per_touch: BTreeMap<String, f64>,
    pub value_per_outcome: Option<f64>,
    pub attribution_window_days: Option<u32>,
    /// Each wave after the first adopts the previous wave's plan per HCP (keep the channel that
    /// worked, change what did not; see [`crate::measure::responders`]).
    pub adaptive: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObjectiveInput {
    /// Event types that count as a response.
    pub response: Option<Vec<String>>,
    /// The event type whose units are the outcome.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetInput {
    pub hcps: Vec<String>,
    pub specialties: Vec<String>,
    pub countries: Vec<String>,
    pub territories: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArmInput {
    pub name: Option<String>,
    /// A fixed content item; absent, the engine chooses among the product's approved content.
    pub content_id: Option<String>,
    /// The channels the arm may use; absent, any the content can go out on.
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaveInput {
    pub name: Option<String>,
    pub at: Option<String>,
}

/// A validated campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub objective: Objective,
    pub target: Target,
    pub arms: Vec<Arm>,
    pub holdout_share: f64,
    pub waves: Vec<Wave>,
    pub cost_per_touch: BTreeMap<Channel, f64>,
    pub value_per_outcome: f64,
    pub attribution_window_days: u32,
    #[serde(default)]
    pub adaptive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Objective {
    pub response: Vec<EventType>,
    pub outcome: EventType,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hcps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specialties: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub territories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Arm {
    pub name: String,
    /// A fixed content item, or `None`: the engine chooses.
    pub content_id: Option<String>,
    /// Channels the arm may use (empty: any).
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Wave {
    pub name: String,
    pub at: Timestamp,
}

/// Which side of the split an HCP is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Holdout,
    /// Treated, in the arm of this index.
    Treated(usize),
}

/// Responses by default: what shows that a person engaged, not that a message arrived.
pub const DEFAULT_RESPONSES: [EventType; 6] = [
    EventType::Clicked,
    EventType::SlideViewed,
    EventType::ContentViewed,
    EventType::SurveyAnswered,
    EventType::MeetingAttended,
    EventType::MedicalInformationRequested,
];

pub const DEFAULT_HOLDOUT_SHARE: f64 = 0.1;
pub const DEFAULT_ATTRIBUTION_DAYS: u32 = 14;
const MAX_WAVES: usize = 100;
const MAX_ARMS: usize = 20;
const MAX_TARGET_HCPS: usize = 1_000_000;

fn text(field: &str, value: Option<String>, max: usize) -> Result<String, FieldError> {
    let value = value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| FieldError::missing(field))?;
    if value.len() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    Ok(value)
}

fn event_type(field: &str, text: &str) -> Result<EventType, FieldError> {
    EventType::parse(field, text)
}

impl CampaignInput {
    pub fn validate(self) -> Result<Campaign, FieldError> {
        let id = parse_identifier("id", self.id.as_deref().unwrap_or_default())?;
        let name = text("name", self.name, 300)?;
        let product = parse_identifier("product", self.product.as_deref().unwrap_or_default())?;
        let description = match self.description {
            Some(d) if d.len() > 4000 => {
                return Err(FieldError::new("description", "must be at most 4000 bytes"));
            }
            d => d.filter(|d| !d.trim().is_empty()),
        };
        let response = match self.objective.response {
            None => DEFAULT_RESPONSES.to_vec(),
            Some(list) if list.is_empty() => {
                return Err(FieldError::new(
                    "objective.response",
                    "must name at least one event type (or be left out for the default)",
                ));
            }
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let field = format!("objective.response[{i}]");
                    match event_type(&field, t)? {
                        kind if crate::response::NEVER_RESPONSES.contains(&kind) => {
                            Err(FieldError::new(
                                field,
                                format!(
                                    "{} never counts as a response (an open may be a \
                                     machine's; the others are the brand's doing or a refusal)",
                                    kind.as_str()
                                ),
                            ))
                        }
                        kind => Ok(kind),
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let outcome = match self.objective.outcome {
            None => EventType::Prescription,
            Some(t) => event_type("objective.outcome", &t)?,
        };
        let target = validate_target(self.target)?;
        let arms = validate_arms(self.arms)?;
        let holdout_share = self.holdout_share.unwrap_or(DEFAULT_HOLDOUT_SHARE);
        if !(holdout_share.is_finite() && (0.0..1.0).contains(&holdout_share)) {
            return Err(FieldError::new(
                "holdout_share",
                "must be at least 0 and below 1 (0.1 holds a tenth of the target out)",
            ));
        }
        let waves = validate_waves(self.waves)?;
        let mut cost_per_touch = BTreeMap::new();
        for (channel, cost) in self.cost_per_touch {
            let field = format!("cost_per_touch.{channel}");
            let c = Channel::parse(&field, &channel)?;
            if !(cost.is_finite() && cost >= 0.0) {
                return Err(FieldError::new(field, "must be a number of 0 or more"));
            }
            cost_per_touch.insert(c, cost);
        }
        let value_per_outcome = self.value_per_outcome.unwrap_or(0.0);
        if !(value_per_outcome.is_finite() && value_per_outcome >= 0.0) {
            return Err(FieldError::new(
                "value_per_outcome",
                "must be a number of 0 or more",
            ));
        }
        let attribution_window_days = self
            .attribution_window_days
            .unwrap_or(DEFAULT_ATTRIBUTION_DAYS);
        if !(1..=365).contains(&attribution_window_days) {
            return Err(FieldError::new(
                "attribution_window_days",
                "must be between 1 and 365",
            ));
        }
        Ok(Campaign {
            id,
            name,
            product,
            description,
            objective: Objective { response, outcome },
            target,
            arms,
            holdout_share,
            waves,
            cost_per_touch,
            value_per_outcome,
            attribution_window_days,
            adaptive: self.adaptive.unwrap_or(false),
        })
    }
}

fn validate_target(t: TargetInput) -> Result<Target, FieldError> {
    if t.hcps.is_empty()
        && t.specialties.is_empty()
        && t.countries.is_empty()
        && t.territories.is_empty()
    {
        return Err(FieldError::new(
            "target",
            "must list HCPs or filter by specialties, countries or territories",
        ));
    }
    if t.hcps.len() > MAX_TARGET_HCPS {
        return Err(FieldError::new(
            "target.hcps",
            format!("must list at most {MAX_TARGET_HCPS} HCPs (use a filter for more)"),
        ));
    }
    let ids = |field: &str, list: Vec<String>| -> Result<Vec<String>, FieldError> {
        let mut out: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(i, v)| parse_identifier(&format!("target.{field}[{i}]"), v.trim()))
            .collect::<Result<_, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    };
    Ok(Target {
        hcps: ids("hcps", t.hcps)?,
        specialties: ids("specialties", t.specialties)?,
        countries: ids("countries", t.countries)?
            .into_iter()
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        territories: ids("territories", t.territories)?,
    })
}

fn validate_arms(arms: Vec<ArmInput>) -> Result<Vec<Arm>, FieldError> {
    if arms.len() > MAX_ARMS {
        return Err(FieldError::new(
            "arms",
            format!("must be at most {MAX_ARMS}"),
        ));
    }
    if arms.is_empty() {
        return Ok(vec![Arm {
            name: "engine".into(),
            content_id: None,
            channels: Vec::new(),
        }]);
    }
    let mut out: Vec<Arm> = Vec::with_capacity(arms.len());
    for (i, arm) in arms.into_iter().enumerate() {
        let at = format!("arms[{i}]");
        let name = match arm.name {
            Some(n) => text("name", Some(n), 100).map_err(|e| e.within(&at))?,
            None => format!("arm-{}", i + 1),
        };
        if out.iter().any(|a| a.name == name) {
            return Err(FieldError::new(
                format!("{at}.name"),
                format!("{name:?} is used by another arm"),
            ));
        }
        let content_id = arm
            .content_id
            .map(|c| parse_identifier("content_id", &c).map_err(|e| e.within(&at)))
            .transpose()?;
        let channels = arm
            .channels
            .iter()
            .enumerate()
            .map(|(j, c)| Channel::parse(&format!("{at}.channels[{j}]"), c))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Arm {
            name,
            content_id,
            channels,
        });
    }
    Ok(out)
}

fn validate_waves(waves: Vec<WaveInput>) -> Result<Vec<Wave>, FieldError> {
    if waves.is_empty() {
        return Err(FieldError::new(
            "waves",
            "must schedule at least one wave (e.g. [{\"at\": \"2026-12-01T08:00:00Z\"}])",
        ));
    }
    if waves.len() > MAX_WAVES {
        return Err(FieldError::new(
            "waves",
            format!("must be at most {MAX_WAVES}"),
        ));
    }
    let mut out: Vec<Wave> = Vec::with_capacity(waves.len());
    for (i, w) in waves.into_iter().enumerate() {
        let at = format!("waves[{i}]");
        let time = Timestamp::parse(
            &format!("{at}.at"),
            w.at.as_deref()
                .ok_or_else(|| FieldError::missing(&format!("{at}.at")))?,
        )?;
        if let Some(previous) = out.last()
            && time <= previous.at
        {
            return Err(FieldError::new(
                format!("{at}.at"),
                "must be after the previous wave",
            ));
        }
        let name = match w.name {
            Some(n) => text("name", Some(n), 100).map_err(|e| e.within(&at))?,
            None => format!("wave-{}", i + 1),
        };
        out.push(Wave { name, at: time });
    }
    Ok(out)
}

impl Campaign {
    /// Which group the HCP is in: held out with the campaign's share, else one of the arms, each
    /// equally likely, from a second draw independent of the first.
    pub fn group_of(&self, hcp: &str) -> Group {
        if holdout_draw(&self.id, hcp) < self.holdout_share {
            return Group::Holdout;
        }
        let arms = self.arms.len().max(1);
        let draw = holdout_draw(&format!("{}\u{1f}arm", self.id), hcp);
        Group::Treated(((draw * arms as f64) as usize).min(arms - 1))
    }

    /// Whether an HCP with these master data is in the target.
    pub fn targets(&self, hcp: &crate::Hcp) -> bool {
        let t = &self.target;
        if !t.hcps.is_empty() {
            return t.hcps.binary_search(&hcp.id.as_str().to_owned()).is_ok();
        }
        (t.specialties.is_empty() || t.specialties.contains(&hcp.specialty))
            && (t.countries.is_empty() || t.countries.contains(&hcp.country))
            && (t.territories.is_empty()
                || hcp
                    .territory
                    .as_ref()
                    .is_some_and(|x| t.territories.contains(x)))
    }

    pub fn attribution_window_ms(&self) -> i64 {
        i64::from(self.attribution_window_days) * DAY_MS
    }

    /// When the campaign stops crediting outcomes: the last wave plus the attribution window.
    pub fn ends_at(&self) -> Timestamp {
        let last = self.waves.last().map_or(0, |w| w.at.millis());
        Timestamp::from_millis(last + self.attribution_window_ms())
    }

    pub fn cost_of(&self, channel: Channel) -> f64 {
        self.cost_per_touch.get(&channel).copied().unwrap_or(0.0)
    }

    /// What counts as a response for this campaign: its objective's event types, by the one
    /// rule of [`crate::response`] (a view from `engaged_dwell_ms` on, never an open).
    pub fn response_rule(&self, engaged_dwell_ms: i64) -> crate::response::ResponseRule<'_> {
        crate::response::ResponseRule {
            kinds: &self.objective.response,
            engaged_dwell_ms,
        }
    }
}

/// Parses a campaign file: YAML, or JSON (which YAML reads too).
pub fn parse_file(text: &str) -> Result<Campaign, FieldError> {
    let input: CampaignInput = yaml_serde::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        FieldError::new("campaign", format!("is not a valid campaign file{at}: {e}"))
    })?;
    input.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcp::HcpInput;

    const YAML: &str = r#"
id: launch-2026
name: Cardio launch, winter wave
product: cardiozen
objective:
  response: [clicked, slide_viewed]
  outcome: prescription
target:
  specialties: [cardiology]
  countries: [DE, FR]
arms:
  - name: efficacy email
    content_id: EM-efficacy
    channels: [email]
  - name: engine
holdout_share: 0.2
waves:
  - at: 2026-12-01T08:00:00Z
  - name: follow-up
    at: 2026-12-15T08:00:00Z
cost_per_touch: {email: 0.5, face_to_face: 150}
value_per_outcome: 250
attribution_window_days: 21
"#;

    #[test]
    fn a_yaml_file_becomes_a_campaign() {
        let c = parse_file(YAML).unwrap();
        assert_eq!(c.id, "launch-2026");
        assert_eq!(
            c.objective.response,
            vec![EventType::Clicked, EventType::SlideViewed]
        );
        assert_eq!(c.arms.len(), 2);
        assert_eq!(c.arms[0].channels, vec![Channel::Email]);
        assert_eq!(c.arms[1].content_id, None);
        assert_eq!(c.waves[0].name, "wave-1");
        assert_eq!(c.waves[1].name, "follow-up");
        assert_eq!(c.cost_of(Channel::FaceToFace), 150.0);
        assert_eq!(c.cost_of(Channel::Sms), 0.0);
        assert_eq!(
            c.ends_at(),
            Timestamp::parse("t", "2027-01-05T08:00:00Z").unwrap()
        );
        // JSON is YAML too.
        let json = r#"{"id": "j", "name": "J", "product": "p", "target": {"hcps": ["b", "a", "a"]},
                      "waves": [{"at": "2026-12-01T08:00:00Z"}]}"#;
        let c = parse_file(json).unwrap();
        assert_eq!(c.target.hcps, vec!["a", "b"]);
        assert_eq!(c.holdout_share, DEFAULT_HOLDOUT_SHARE);
        assert_eq!(c.objective.outcome, EventType::Prescription);
        assert_eq!(c.arms[0].name, "engine");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = |patch: &str| {
            let text = format!("{YAML}\n{patch}");
            parse_file(&text).unwrap_err()
        };
        let cases = [
            ("holdout_share: 1.0", "holdout_share"),
            ("attribution_window_days: 0", "attribution_window_days"),
            ("value_per_outcome: -1", "value_per_outcome"),
        ];
        for (patch, field) in cases {
            // A repeated key is a YAML error; replace instead.
            let key = patch.split(':').next().unwrap();
            let text: String = YAML
                .lines()
                .filter(|l| !l.starts_with(key))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
                + patch;
            assert_eq!(parse_file(&text).unwrap_err().field, field, "{patch}");
        }
        let e = bad("colour: red");
        assert_eq!(e.field, "campaign");
        assert!(e.reason.contains("colour"), "{}", e.reason);
        let replace = |from: &str, to: &str| parse_file(&YAML.replace(from, to)).unwrap_err();
        assert_eq!(
            replace(
                "response: [clicked, slide_viewed]",
                "response: [clicked, waved]"
            )
            .field,
            "objective.response[1]"
        );
        assert_eq!(
            replace("{email: 0.5,", "{pigeon: 0.5,").field,
            "cost_per_touch.pigeon"
        );
        assert_eq!(
            replace("channels: [email]", "channels: [telepathy]").field,
            "arms[0].channels[0]"
        );
        assert_eq!(
            replace(
                "    at: 2026-12-15T08:00:00Z",
                "    at: 2026-11-15T08:00:00Z"
            )
            .field,
            "waves[1].at"
        );
        assert_eq!(
            replace("- name: engine", "- name: efficacy email").field,
            "arms[1].name"
        );
        assert_eq!(
            replace("  specialties: [cardiology]\n  countries: [DE, FR]\n", "").field,
            "target"
        );
        assert_eq!(replace("id: launch-2026", "id: launch 2026").field, "id");
        let no_waves =
            YAML.split("waves:").next().unwrap().to_owned() + "cost_per_touch: {email: 0.5}\n";
        assert_eq!(parse_file(&no_waves).unwrap_err().field, "waves");
    }

    #[test]
    fn groups_follow_the_shares_and_the_target_filter() {
        let c = parse_file(YAML).unwrap();
        let n = 20_000;
        let mut counts = [0usize; 3];
        for i in 0..n {
            match c.group_of(&format!("hcp-{i}")) {
                Group::Holdout => counts[0] += 1,
                Group::Treated(a) => counts[1 + a] += 1,
            }
        }
        // 20% held out; the rest split evenly between the two arms (4 sd tolerance).
        assert!((counts[0] as f64 - 4000.0).abs() < 4.0 * (n as f64 * 0.16).sqrt());
        assert!((counts[1] as f64 - 8000.0).abs() < 4.0 * (n as f64 * 0.4 * 0.6).sqrt());
        assert_eq!(c.group_of("hcp-1"), c.group_of("hcp-1"));
        let hcp = |specialty: &str, country: &str| {
            HcpInput {
                name: Some("Dr A".into()),
                specialty: Some(specialty.into()),
                country: Some(country.into()),
                ..HcpInput::default()
            }
            .validate("h-1")
            .unwrap()
        };
        assert!(c.targets(&hcp("cardiology", "DE")));
        assert!(!c.targets(&hcp("cardiology", "GB")));
        assert!(!c.targets(&hcp("nephrology", "DE")));
    }
}
