//! The invented brands and their content library: decks, key messages, emails, videos, web
//! pages, banners, webinars and questionnaires, with MLR histories dated relative to `now`.

use openclm_core::content::{Content, ContentInput, ContentKind};
use openclm_core::{FieldError, Timestamp};

use crate::calendar::{DAY_MS, day_of};

/// A topic content speaks to, and that an HCP can care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    Efficacy,
    Safety,
    Dosing,
    Access,
    MechanismOfAction,
    PatientSupport,
    Guidelines,
}

impl Topic {
    pub(crate) const ALL: [Topic; 7] = [
        Topic::Efficacy,
        Topic::Safety,
        Topic::Dosing,
        Topic::Access,
        Topic::MechanismOfAction,
        Topic::PatientSupport,
        Topic::Guidelines,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Topic::Efficacy => "efficacy",
            Topic::Safety => "safety",
            Topic::Dosing => "dosing",
            Topic::Access => "access",
            Topic::MechanismOfAction => "mechanism_of_action",
            Topic::PatientSupport => "patient_support",
            Topic::Guidelines => "guidelines",
        }
    }

    /// How a survey answer names the topic.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Topic::Efficacy => "Clinical efficacy data",
            Topic::Safety => "Safety and tolerability",
            Topic::Dosing => "Dosing and titration",
            Topic::Access => "Access and reimbursement",
            Topic::MechanismOfAction => "Mechanism of action",
            Topic::PatientSupport => "Patient support services",
            Topic::Guidelines => "Guideline updates",
        }
    }

    /// The page of a brand site that covers the topic.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Topic::Efficacy => "clinical-data",
            Topic::Safety => "safety-profile",
            Topic::Dosing => "dosing",
            Topic::Access => "access-and-reimbursement",
            Topic::MechanismOfAction => "mechanism-of-action",
            Topic::PatientSupport => "patient-support",
            Topic::Guidelines => "guidelines",
        }
    }
}

/// One of the invented brands.
pub(crate) struct Product {
    pub key: &'static str,
    pub brand: &'static str,
    /// Prefix of its approval codes.
    pub code: &'static str,
    /// Price of one pack in euros, before the per-country factor.
    pub pack_price: f64,
    /// The slides of its core visual aid, in order, with the topic each covers.
    pub slides: &'static [(&'static str, Topic)],
}

impl Product {
    pub(crate) fn site(&self) -> String {
        format!("https://hcp.{}.example", self.key)
    }
}

pub(crate) const CARDIOZAN: usize = 0;
pub(crate) const ONCOVIRA: usize = 1;
pub(crate) const GLUCENTA: usize = 2;
pub(crate) const PULMAXA: usize = 3;
pub(crate) const RHEUMORA: usize = 4;

use Topic::*;

pub(crate) static PRODUCTS: [Product; 5] = [
    Product {
        key: "cardiozan",
        brand: "Cardiozan",
        code: "CZ",
        pack_price: 48.0,
        slides: &[
            ("01 Burden of heart failure", Guidelines),
            ("02 Mechanism of action", MechanismOfAction),
            ("03 Primary endpoint: HF hospitalisation", Efficacy),
            ("04 Cardiovascular death", Efficacy),
            ("05 Safety profile", Safety),
            ("06 Renal function and potassium", Safety),
            ("07 Dosing and titration", Dosing),
            ("08 Patient support programme", PatientSupport),
            ("09 Access and reimbursement", Access),
        ],
    },
    Product {
        key: "oncovira",
        brand: "Oncovira",
        code: "OV",
        pack_price: 2_850.0,
        slides: &[
            ("01 1L NSCLC treatment landscape", Guidelines),
            ("02 Immune checkpoint mechanism", MechanismOfAction),
            ("03 Overall survival at 5 years", Efficacy),
            ("04 PD-L1 subgroups", Efficacy),
            ("05 Immune-related adverse events", Safety),
            ("06 Dosing every 3 weeks", Dosing),
            ("07 Access and funding", Access),
        ],
    },
    Product {
        key: "glucenta",
        brand: "Glucenta",
        code: "GL",
        pack_price: 115.0,
        slides: &[
            ("01 Unmet need in type 2 diabetes", Guidelines),
            ("02 Dual incretin mechanism", MechanismOfAction),
            ("03 HbA1c reduction at week 26", Efficacy),
            ("04 Weight outcomes", Efficacy),
            ("05 Hypoglycaemia and GI tolerability", Safety),
            ("06 Pen and dose escalation", Dosing),
            ("07 Patient support programme", PatientSupport),
        ],
    },
    Product {
        key: "pulmaxa",
        brand: "Pulmaxa",
        code: "PX",
        pack_price: 62.0,
        slides: &[
            ("01 COPD exacerbation burden", Guidelines),
            ("02 Triple therapy in one inhaler", MechanismOfAction),
            ("03 Exacerbation reduction", Efficacy),
            ("04 Lung function", Efficacy),
            ("05 Safety profile", Safety),
            ("06 Inhaler technique", Dosing),
        ],
    },
    Product {
        key: "rheumora",
        brand: "Rheumora",
        code: "RH",
        pack_price: 1_180.0,
        slides: &[
            ("01 Treat-to-target in RA", Guidelines),
            ("02 IL-6 pathway", MechanismOfAction),
            ("03 Remission at week 52", Efficacy),
            ("04 Infection risk and monitoring", Safety),
            ("05 Subcutaneous dosing", Dosing),
            ("06 Access and homecare", Access),
        ],
    },
];

/// Where an item is in its MLR lifecycle, in days relative to `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lifecycle {
    Draft,
    InReview,
    Approved {
        days_ago: i64,
        expires_in: i64,
    },
    Withdrawn {
        days_ago: i64,
        expires_in: i64,
        withdrawn_days_ago: i64,
    },
}

/// A library item as written here; `materialize` turns it into validated `Content`.
pub(crate) struct Item {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: ContentKind,
    pub product: usize,
    pub topics: &'static [Topic],
    pub language: &'static str,
    pub countries: &'static [&'static str],
    pub version: u32,
    pub lifecycle: Lifecycle,
    /// Days before `now` of a webinar's live sessions.
    pub sessions: &'static [i64],
}

const ALL: &[&str] = &["DE", "FR", "GB", "ES", "IT", "US"];
const EN: &[&str] = &["GB", "US"];

const fn approved(days_ago: i64, expires_in: i64) -> Lifecycle {
    Lifecycle::Approved {
        days_ago,
        expires_in,
    }
}

macro_rules! item {
    ($id:literal, $kind:ident, $product:ident, $title:literal, [$($topic:ident),*], $lang:literal,
     $countries:expr, $version:literal, $lifecycle:expr $(, sessions $sessions:expr)?) => {
        Item {
            id: $id,
            title: $title,
            kind: ContentKind::$kind,
            product: $product,
            topics: &[$($topic),*],
            language: $lang,
            countries: $countries,
            version: $version,
            lifecycle: $lifecycle,
            sessions: item!(@sessions $($sessions)?),
        }
    };
    (@sessions) => { &[] };
    (@sessions $sessions:expr) => { $sessions };
}

// One row per item: id, kind, product, title, topics, language, countries, version, lifecycle
// and, for webinars, the days before `now` of the live sessions.
#[rustfmt::skip]
pub(crate) static ITEMS: &[Item] = &[
    // Cardiozan: the launch brand, localised for every market.
    item!("CZ-DECK-EN", SlideDeck, CARDIOZAN, "Cardiozan core visual aid: outcomes in HFrEF",
        [Efficacy, Safety, Dosing, MechanismOfAction], "en", EN, 4, approved(240, 125)),
    item!("CZ-DECK-DE", SlideDeck, CARDIOZAN, "Cardiozan Kerndetailing: Outcomes bei HFrEF",
        [Efficacy, Safety, Dosing], "de", &["DE"], 3, approved(205, 160)),
    item!("CZ-DECK-FR", SlideDeck, CARDIOZAN, "Cardiozan aide de visite : résultats dans l'IC-FEr",
        [Efficacy, Safety, Dosing], "fr", &["FR"], 3, approved(335, 22)),
    item!("CZ-DECK-ES", SlideDeck, CARDIOZAN, "Cardiozan ayuda visual: resultados en IC-FEr",
        [Efficacy, Safety, Dosing], "es", &["ES"], 2, approved(230, 135)),
    item!("CZ-DECK-IT", SlideDeck, CARDIOZAN, "Cardiozan visual aid: esiti nello scompenso HFrEF",
        [Efficacy, Safety, Dosing], "it", &["IT"], 2, approved(220, 145)),
    item!("CZ-KM-EFFICACY", KeyMessage, CARDIOZAN,
        "Cardiozan reduced HF hospitalisation by 23% versus standard of care",
        [Efficacy], "en", ALL, 2, approved(240, 125)),
    item!("CZ-KM-SAFETY", KeyMessage, CARDIOZAN,
        "A well-characterised safety profile over four years of follow-up",
        [Safety], "en", ALL, 2, approved(240, 125)),
    item!("CZ-KM-DOSING", KeyMessage, CARDIOZAN,
        "Start low and titrate every two weeks to the target dose",
        [Dosing], "en", ALL, 1, approved(240, 125)),
    item!("CZ-EM-LAUNCH", EmailTemplate, CARDIOZAN, "Now available: Cardiozan for HFrEF",
        [Efficacy], "en", EN, 1, approved(175, 190)),
    item!("CZ-EM-LAUNCH-DE", EmailTemplate, CARDIOZAN, "Jetzt verfügbar: Cardiozan bei HFrEF",
        [Efficacy], "de", &["DE"], 1, approved(172, 193)),
    item!("CZ-EM-LAUNCH-FR", EmailTemplate, CARDIOZAN, "Nouveau : Cardiozan dans l'IC-FEr",
        [Efficacy], "fr", &["FR"], 1, approved(168, 197)),
    item!("CZ-EM-DOSING", EmailTemplate, CARDIOZAN,
        "Titration made simple: the Cardiozan dosing card",
        [Dosing], "en", &["GB", "US", "ES", "IT"], 2, approved(95, 270)),
    item!("CZ-VID-MOA", Video, CARDIOZAN, "How Cardiozan works: a three-minute animation",
        [MechanismOfAction], "en", ALL, 1, approved(260, 105)),
    item!("CZ-WEB-DOSING", WebPage, CARDIOZAN, "Cardiozan HCP portal: dosing and titration",
        [Dosing, PatientSupport], "en", ALL, 3, approved(250, 115)),
    item!("CZ-BAN-OUTCOMES", Banner, CARDIOZAN, "Cardiozan: 23% fewer HF hospitalisations",
        [Efficacy], "en", EN, 1, approved(170, 195)),
    item!("CZ-WBN-GDMT", Webinar, CARDIOZAN,
        "Expert webinar: optimising guideline-directed therapy in heart failure",
        [Guidelines, Efficacy], "en", ALL, 1, approved(200, 165), sessions &[150, 92, 33]),
    item!("CZ-QST-FEEDBACK", Questionnaire, CARDIOZAN, "Cardiozan materials feedback survey",
        [Efficacy, Dosing], "en", ALL, 1, approved(200, 165)),
    item!("CZ-EM-RWE", EmailTemplate, CARDIOZAN, "Cardiozan: first real-world outcomes",
        [Efficacy], "en", EN, 1, Lifecycle::Draft),
    // Oncovira: a specialist brand, detailed in English internationally.
    item!("OV-DECK-INT", SlideDeck, ONCOVIRA, "Oncovira in first-line NSCLC: five-year survival",
        [Efficacy, Safety, Dosing], "en", ALL, 5, approved(300, 65)),
    item!("OV-KM-OS", KeyMessage, ONCOVIRA,
        "Median overall survival of 26.3 months in first-line NSCLC",
        [Efficacy], "en", ALL, 3, approved(300, 65)),
    item!("OV-KM-IRAE", KeyMessage, ONCOVIRA,
        "Recognise and manage immune-related adverse events early",
        [Safety], "en", ALL, 2, approved(300, 65)),
    item!("OV-EM-CONGRESS", EmailTemplate, ONCOVIRA,
        "Oncovira: five-year data presented at congress",
        [Efficacy], "en", ALL, 1, approved(150, 215)),
    item!("OV-WBN-TUMOURBOARD", Webinar, ONCOVIRA, "Tumour board live: biomarker testing in NSCLC",
        [Guidelines], "en", ALL, 1, approved(190, 175), sessions &[128, 61]),
    item!("OV-WEB-ACCESS", WebPage, ONCOVIRA, "Oncovira access and reimbursement hub",
        [Access, PatientSupport], "en", ALL, 2, approved(280, 85)),
    item!("OV-VID-IRAE", Video, ONCOVIRA, "irAE management in five minutes",
        [Safety], "en", ALL, 1, Lifecycle::InReview),
    // Glucenta: primary care and endocrinology.
    item!("GL-DECK-EN", SlideDeck, GLUCENTA, "Glucenta visual aid: HbA1c and weight outcomes",
        [Efficacy, Safety, Dosing], "en", &["GB", "US", "ES", "FR"], 3, approved(260, 105)),
    item!("GL-DECK-DE", SlideDeck, GLUCENTA, "Glucenta Detailing: HbA1c und Gewicht",
        [Efficacy, Safety, Dosing], "de", &["DE"], 2, approved(245, 120)),
    item!("GL-DECK-IT", SlideDeck, GLUCENTA, "Glucenta: HbA1c e peso corporeo",
        [Efficacy, Safety, Dosing], "it", &["IT"], 2, approved(245, 120)),
    item!("GL-KM-HBA1C", KeyMessage, GLUCENTA,
        "HbA1c reduction of 1.4 percentage points at week 26",
        [Efficacy], "en", ALL, 2, approved(260, 105)),
    item!("GL-KM-HYPO", KeyMessage, GLUCENTA, "Low risk of hypoglycaemia as monotherapy",
        [Safety], "en", ALL, 2, approved(260, 105)),
    item!("GL-EM-PSP", EmailTemplate, GLUCENTA,
        "Glucenta patient support programme: enrol your patients",
        [PatientSupport], "en", &["GB", "US", "ES", "FR", "DE"], 2, approved(185, 180)),
    item!("GL-EM-PSP-IT", EmailTemplate, GLUCENTA, "Programma di supporto pazienti Glucenta",
        [PatientSupport], "it", &["IT"], 1, approved(180, 185)),
    item!("GL-WEB-DOSING", WebPage, GLUCENTA, "Glucenta dosing guide",
        [Dosing], "en", ALL, 2, approved(355, -12)),
    item!("GL-VID-PEN", Video, GLUCENTA, "Using the Glucenta pen: patient training video",
        [PatientSupport, Dosing], "en", ALL, 1, approved(230, 135)),
    item!("GL-QST-PRACTICE", Questionnaire, GLUCENTA, "Type 2 diabetes practice survey 2026",
        [Guidelines, PatientSupport], "en", ALL, 1, approved(120, 60)),
    // Pulmaxa: respiratory.
    item!("PX-DECK-INT", SlideDeck, PULMAXA, "Pulmaxa in COPD: fewer exacerbations",
        [Efficacy, Safety, Dosing], "en", ALL, 2, approved(270, 95)),
    item!("PX-KM-EXAC", KeyMessage, PULMAXA, "31% fewer moderate-to-severe exacerbations",
        [Efficacy], "en", ALL, 1, approved(270, 95)),
    item!("PX-EM-GOLD", EmailTemplate, PULMAXA, "GOLD 2026 update: where Pulmaxa fits",
        [Guidelines], "en", ALL, 1, approved(110, 255)),
    item!("PX-EM-GOLD-FR", EmailTemplate, PULMAXA, "GOLD 2026 : la place de Pulmaxa",
        [Guidelines], "fr", &["FR"], 1, Lifecycle::InReview),
    item!("PX-BAN-ONCEDAILY", Banner, PULMAXA, "Pulmaxa: one inhaler, once daily",
        [Dosing], "en", ALL, 1, approved(356, 9)),
    item!("PX-WEB-INHALER", WebPage, PULMAXA, "Inhaler technique resources",
        [Dosing, PatientSupport], "en", ALL, 1, approved(400, -40)),
    // Rheumora: rheumatology and dermatology.
    item!("RH-DECK-INT", SlideDeck, RHEUMORA, "Rheumora in moderate-to-severe rheumatoid arthritis",
        [Efficacy, Safety, Dosing], "en", ALL, 2, approved(210, 155)),
    item!("RH-DECK-DE", SlideDeck, RHEUMORA, "Rheumora bei rheumatoider Arthritis",
        [Efficacy, Safety], "de", &["DE"], 1, Lifecycle::InReview),
    item!("RH-KM-REMISSION", KeyMessage, RHEUMORA, "Sustained remission at week 52",
        [Efficacy], "en", ALL, 1, approved(210, 155)),
    item!("RH-EM-ACCESS", EmailTemplate, RHEUMORA, "Rheumora: ahora financiado",
        [Access], "es", &["ES"], 1, Lifecycle::Withdrawn { days_ago: 160, expires_in: 205, withdrawn_days_ago: 20 }),
    item!("RH-WBN-T2T", Webinar, RHEUMORA, "Treat-to-target in RA: case discussions",
        [Guidelines, Efficacy], "en", ALL, 1, approved(180, 185), sessions &[110, 48]),
];

/// An email campaign: the templates it may send (the first one valid for the HCP's country) and
/// the days before `now` its waves go out.
pub(crate) struct Campaign {
    pub id: &'static str,
    pub product: usize,
    pub templates: &'static [&'static str],
    pub waves: &'static [i64],
}

pub(crate) static CAMPAIGNS: &[Campaign] = &[
    Campaign {
        id: "camp-cardiozan-launch",
        product: CARDIOZAN,
        templates: &["CZ-EM-LAUNCH", "CZ-EM-LAUNCH-DE", "CZ-EM-LAUNCH-FR"],
        waves: &[160, 128, 96],
    },
    Campaign {
        id: "camp-cardiozan-dosing",
        product: CARDIOZAN,
        templates: &["CZ-EM-DOSING"],
        waves: &[70, 38, 9],
    },
    Campaign {
        id: "camp-oncovira-congress",
        product: ONCOVIRA,
        templates: &["OV-EM-CONGRESS"],
        waves: &[140, 104, 42],
    },
    Campaign {
        id: "camp-glucenta-psp",
        product: GLUCENTA,
        templates: &["GL-EM-PSP", "GL-EM-PSP-IT"],
        waves: &[172, 118, 55, 16],
    },
    Campaign {
        id: "camp-pulmaxa-gold",
        product: PULMAXA,
        templates: &["PX-EM-GOLD"],
        waves: &[100, 66, 24],
    },
    Campaign {
        id: "camp-rheumora-access",
        product: RHEUMORA,
        templates: &["RH-EM-ACCESS"],
        waves: &[145, 82, 35],
    },
];

/// A survey wave: a questionnaire sent to the HCPs a product concerns, `days_ago` before `now`.
pub(crate) struct SurveyWave {
    pub questionnaire: &'static str,
    pub days_ago: i64,
}

pub(crate) static SURVEYS: &[SurveyWave] = &[
    SurveyWave {
        questionnaire: "CZ-QST-FEEDBACK",
        days_ago: 75,
    },
    SurveyWave {
        questionnaire: "GL-QST-PRACTICE",
        days_ago: 40,
    },
];

/// The library as of `now`, each item with its lifecycle dates turned into timestamps.
#[derive(Debug, Clone)]
pub(crate) struct Library {
    pub content: Vec<Content>,
    /// When each item stopped being usable, if it was withdrawn.
    pub withdrawn_at: Vec<Option<i64>>,
}

impl Library {
    pub(crate) fn build(now: Timestamp) -> Result<Library, FieldError> {
        let midnight = day_of(now.millis()) * DAY_MS;
        let at = |days_from_now: i64| Timestamp::from_millis(midnight + days_from_now * DAY_MS);
        let mut content = Vec::with_capacity(ITEMS.len());
        let mut withdrawn_at = Vec::with_capacity(ITEMS.len());
        for (index, item) in ITEMS.iter().enumerate() {
            let (status, approved, expires, withdrawn) = match item.lifecycle {
                Lifecycle::Draft => ("draft", None, None, None),
                Lifecycle::InReview => ("in_review", None, None, None),
                Lifecycle::Approved {
                    days_ago,
                    expires_in,
                } => ("approved", Some(days_ago), Some(expires_in), None),
                Lifecycle::Withdrawn {
                    days_ago,
                    expires_in,
                    withdrawn_days_ago,
                } => (
                    "withdrawn",
                    Some(days_ago),
                    Some(expires_in),
                    Some(withdrawn_days_ago),
                ),
            };
            let approved_at = approved.map(|d| at(-d));
            let product = &PRODUCTS[item.product];
            let approval_code = approved_at.map(|t| {
                let (year, _, _) = crate::calendar::civil(day_of(t.millis()));
                format!("{}-{year}-{:04}", product.code, 17 + index * 13)
            });
            let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
            let input = ContentInput {
                id: Some(item.id.to_owned()),
                title: Some(item.title.to_owned()),
                kind: Some(item.kind.as_str().to_owned()),
                product: Some(product.key.to_owned()),
                topics: item.topics.iter().map(|t| t.as_str().to_owned()).collect(),
                language: Some(item.language.to_owned()),
                countries: item.countries.iter().map(|c| (*c).to_owned()).collect(),
                specialties: Vec::new(),
                version: Some(item.version),
                status: Some(status.to_owned()),
                approval_code,
                approved_at: text(approved_at),
                // MLR approval takes a few days to reach the field.
                valid_from: text(approved.map(|d| at(3 - d))),
                expires_at: text(expires.map(at)),
            };
            content.push(input.validate().map_err(|e| e.within(item.id))?);
            withdrawn_at.push(withdrawn.map(|d| at(-d).millis()));
        }
        Ok(Library {
            content,
            withdrawn_at,
        })
    }

    /// Whether item `index` could be used with an HCP in `country` at `at_ms`: approved, inside
    /// its validity window, not yet withdrawn, and approved for the country.
    pub(crate) fn usable(&self, index: usize, country: &str, at_ms: i64) -> bool {
        let c = &self.content[index];
        let live = match c.status {
            openclm_core::content::ContentStatus::Approved => true,
            openclm_core::content::ContentStatus::Withdrawn => {
                self.withdrawn_at[index].is_some_and(|w| at_ms < w)
            }
            _ => false,
        };
        live && c.valid_from.is_some_and(|t| t.millis() <= at_ms)
            && c.expires_at.is_none_or(|t| at_ms < t.millis())
            && c.countries.iter().any(|x| x == country)
    }

    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        ITEMS.iter().position(|i| i.id == id)
    }
}
