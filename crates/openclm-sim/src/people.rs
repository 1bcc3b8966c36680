//! HCP master data and the hidden traits behind each HCP's behaviour.
//!
//! The master data is what a CRM would hold: name, specialty, territory, label tags (the
//! `segments` field), ids. The persona is what nobody can observe directly (channel affinity,
//! topic interest, prescribing response); those tags are deliberately only noisy proxies of it,
//! as in real life.

use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_core::{FieldError, Hcp};
use rand::Rng;

use crate::catalog::{CARDIOZAN, Topic};
use crate::random::{Stream, chance, lognormal, pick, rng_for, unit, weighted};

struct Country {
    code: &'static str,
    weight: f64,
    /// Sales regions: code, number of territories, UTC offset in hours.
    regions: &'static [(&'static str, u8, i64)],
    first_names: &'static [&'static str],
    last_names: &'static [&'static str],
    email_domains: &'static [&'static str],
    currency: &'static str,
    /// Local pack price relative to the euro list price.
    price_factor: f64,
}

static COUNTRIES: [Country; 6] = [
    Country {
        code: "US",
        weight: 28.0,
        regions: &[
            ("NE", 3, -5),
            ("SE", 2, -5),
            ("MW", 2, -6),
            ("SW", 1, -7),
            ("W", 2, -8),
        ],
        first_names: &[
            "Michael",
            "Jennifer",
            "David",
            "Sarah",
            "Robert",
            "Jessica",
            "Wei",
            "Maria",
            "Christopher",
            "Aisha",
            "Kevin",
            "Emily",
        ],
        last_names: &[
            "Johnson", "Williams", "Miller", "Davis", "Garcia", "Nguyen", "Kim", "Anderson",
            "Thompson", "Lee", "Chen", "Jackson",
        ],
        email_domains: &[
            "clinic.example.com",
            "health.example.com",
            "medgroup.example.net",
        ],
        currency: "USD",
        price_factor: 2.3,
    },
    Country {
        code: "DE",
        weight: 20.0,
        regions: &[("N", 2, 1), ("S", 3, 1), ("W", 2, 1), ("E", 1, 1)],
        first_names: &[
            "Anna",
            "Lukas",
            "Katharina",
            "Jonas",
            "Sabine",
            "Thomas",
            "Julia",
            "Matthias",
            "Claudia",
            "Stefan",
            "Lena",
            "Felix",
        ],
        last_names: &[
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Schäfer",
            "Koch",
            "Richter",
        ],
        email_domains: &["praxis.example.org", "klinikum.example.org"],
        currency: "EUR",
        price_factor: 1.0,
    },
    Country {
        code: "FR",
        weight: 14.0,
        regions: &[
            ("IDF", 2, 1),
            ("N", 1, 1),
            ("S", 1, 1),
            ("O", 1, 1),
            ("E", 1, 1),
        ],
        first_names: &[
            "Camille", "Julien", "Claire", "Nicolas", "Sophie", "Antoine", "Élodie", "Mathieu",
            "Isabelle", "Chloé", "Pierre", "Hélène",
        ],
        last_names: &[
            "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            "Leroy", "Moreau", "Lefèvre", "Girard",
        ],
        email_domains: &["cabinet.example.org", "chu.example.org"],
        currency: "EUR",
        price_factor: 0.9,
    },
    Country {
        code: "GB",
        weight: 14.0,
        regions: &[
            ("LON", 2, 0),
            ("SE", 1, 0),
            ("MID", 1, 0),
            ("N", 1, 0),
            ("SCO", 1, 0),
        ],
        first_names: &[
            "Oliver",
            "Emily",
            "James",
            "Charlotte",
            "Harry",
            "Sophie",
            "George",
            "Amelia",
            "Priya",
            "Mohammed",
            "Hannah",
            "Daniel",
        ],
        last_names: &[
            "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Patel", "Evans", "Thomas",
            "Khan", "Roberts", "Walker",
        ],
        email_domains: &["gp-surgery.example.org", "hospital.example.org"],
        currency: "GBP",
        price_factor: 0.85,
    },
    Country {
        code: "ES",
        weight: 12.0,
        regions: &[("CEN", 1, 1), ("CAT", 1, 1), ("AND", 1, 1), ("NOR", 1, 1)],
        first_names: &[
            "Lucía",
            "Javier",
            "María",
            "Carlos",
            "Elena",
            "Pablo",
            "Carmen",
            "Alejandro",
            "Laura",
            "Sergio",
            "Marta",
            "Diego",
        ],
        last_names: &[
            "García",
            "Fernández",
            "González",
            "Rodríguez",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Ruiz",
            "Díaz",
            "Moreno",
        ],
        email_domains: &["consulta.example.org", "hospital.example.org"],
        currency: "EUR",
        price_factor: 0.8,
    },
    Country {
        code: "IT",
        weight: 12.0,
        regions: &[("N", 2, 1), ("C", 1, 1), ("S", 1, 1)],
        first_names: &[
            "Giulia",
            "Marco",
            "Francesca",
            "Alessandro",
            "Chiara",
            "Luca",
            "Sara",
            "Matteo",
            "Valentina",
            "Andrea",
            "Federica",
            "Davide",
        ],
        last_names: &[
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
            "Marino", "Greco", "Bruno", "Gallo",
        ],
        email_domains: &["studio-medico.example.org", "ospedale.example.org"],
        currency: "EUR",
        price_factor: 0.8,
    },
];

struct Specialty {
    name: &'static str,
    weight: f64,
    prescriber: bool,
    /// How much each product concerns the specialty, in `PRODUCTS` order.
    relevance: [f64; 5],
}

static SPECIALTIES: [Specialty; 10] = [
    Specialty {
        name: "general_practice",
        weight: 30.0,
        prescriber: true,
        relevance: [0.6, 0.0, 0.8, 0.5, 0.0],
    },
    Specialty {
        name: "cardiology",
        weight: 10.0,
        prescriber: true,
        relevance: [1.0, 0.0, 0.2, 0.0, 0.0],
    },
    Specialty {
        name: "oncology",
        weight: 7.0,
        prescriber: true,
        relevance: [0.0, 1.0, 0.0, 0.0, 0.0],
    },
    Specialty {
        name: "endocrinology",
        weight: 6.0,
        prescriber: true,
        relevance: [0.3, 0.0, 1.0, 0.0, 0.0],
    },
    Specialty {
        name: "pulmonology",
        weight: 6.0,
        prescriber: true,
        relevance: [0.0, 0.4, 0.0, 1.0, 0.0],
    },
    Specialty {
        name: "neurology",
        weight: 5.0,
        prescriber: true,
        relevance: [0.3, 0.0, 0.0, 0.0, 0.0],
    },
    Specialty {
        name: "rheumatology",
        weight: 5.0,
        prescriber: true,
        relevance: [0.0, 0.0, 0.0, 0.0, 1.0],
    },
    Specialty {
        name: "dermatology",
        weight: 5.0,
        prescriber: true,
        relevance: [0.0, 0.0, 0.0, 0.0, 0.7],
    },
    Specialty {
        name: "pharmacy",
        weight: 14.0,
        prescriber: false,
        relevance: [0.4, 0.2, 0.5, 0.5, 0.2],
    },
    Specialty {
        name: "nursing",
        weight: 12.0,
        prescriber: false,
        relevance: [0.3, 0.3, 0.6, 0.3, 0.2],
    },
];

/// How strongly an HCP responds on each channel, each in `[0, 1]`.
#[derive(Debug, Clone)]
pub(crate) struct Affinity {
    pub email: f64,
    pub face_to_face: f64,
    pub remote: f64,
    pub web: f64,
    pub webinar: f64,
    pub survey: f64,
}

/// An HCP's email consent over the history, as fractions of the history window.
#[derive(Debug, Clone)]
pub(crate) struct ConsentPlan {
    pub granted: f64,
    pub withdrawn: Option<f64>,
}

/// How an HCP prescribes their main product, and how much touches move it.
#[derive(Debug, Clone)]
pub(crate) struct Prescribing {
    pub product: usize,
    pub weekly_packs: f64,
    /// Relative uplift per unit of recent engagement.
    pub responsiveness: f64,
    /// Relative change in baseline over the whole history (launch uptake for early adopters).
    pub growth: f64,
}

/// Everything about an HCP that drives the history but is never shown.
#[derive(Debug, Clone)]
pub(crate) struct Persona {
    pub hcp_id: String,
    pub country: &'static str,
    pub kol: bool,
    pub utc_offset_hours: i64,
    pub currency: &'static str,
    pub price_factor: f64,
    /// Overall propensity to respond; log-normal, so a few HCPs are very engaged.
    pub engagement: f64,
    pub affinity: Affinity,
    /// Interest in each `Topic`, in `[0, 1]`.
    pub topics: [f64; 7],
    pub relevance: [f64; 5],
    /// Reads email in Apple Mail with Mail Privacy Protection: every delivery is "opened".
    pub machine_opens: bool,
    /// Their email address hard-bounces.
    pub bad_address: bool,
    pub consent: Option<ConsentPlan>,
    pub visits_per_month: f64,
    pub remote_calls_per_month: f64,
    pub rx: Option<Prescribing>,
    pub crm_id: String,
    /// The id the email provider reports, when the HCP is known there.
    pub email_id: Option<String>,
    /// The id web analytics reports, when the HCP has a portal login.
    pub web_id: Option<String>,
    pub rep_id: String,
}

/// About one HCP in fifty is an investigator in a trial of one of the products and must not be
/// promoted it. Derived from the HCP's number, not drawn, so that the rest of the world does not
/// depend on it.
fn trial_restrictions(number: usize) -> Vec<String> {
    if number % 50 == 17 {
        let product = &crate::catalog::PRODUCTS[(number / 50) % crate::catalog::PRODUCTS.len()];
        vec![product.key.to_owned()]
    } else {
        Vec::new()
    }
}

impl Persona {
    pub(crate) fn favourite_topic(&self) -> Topic {
        let mut best = Topic::Efficacy;
        for t in Topic::ALL {
            if self.topics[t.index()] > self.topics[best.index()] {
                best = t;
            }
        }
        best
    }
}

fn clamp01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// A Salesforce-style 18-character account id, distinct for every index below 62^8.
fn crm_id(index: u64) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const SPACE: u128 = 62u128.pow(8);
    // Multiplying by a number coprime to 62^8 permutes the space, so ids look random yet never
    // collide.
    let mut n = (u128::from(index) * 1_000_000_007 + 12_345_678) % SPACE;
    let mut tail = [b'0'; 8];
    for slot in tail.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    format!("0015g00000{}", String::from_utf8_lossy(&tail))
}

fn web_id(index: u64) -> String {
    // An odd multiplier permutes 40-bit values.
    format!(
        "wa-{:010x}",
        (index.wrapping_mul(0x9E37_79B9_7F4B) ^ 0x5A5A) & 0xFF_FFFF_FFFF
    )
}

/// Lower-case ASCII for an email local part.
fn ascii_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'í' | 'ì' | 'ï' => out.push('i'),
            'ó' | 'ò' | 'ô' => out.push('o'),
            'ú' | 'ù' => out.push('u'),
            'ñ' => out.push('n'),
            'ç' => out.push('c'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// The HCP with OpenCLM id `hcp-{index + 1:06}`, and the persona behind it.
pub(crate) fn generate(seed: u64, index: usize) -> Result<(Hcp, Persona), FieldError> {
    let mut rng = rng_for(seed, Stream::MasterData, index as u64);
    let number = index + 1;

    let country_weights: Vec<f64> = COUNTRIES.iter().map(|c| c.weight).collect();
    let country = &COUNTRIES[weighted(&mut rng, &country_weights).unwrap_or(0)];
    let region_weights: Vec<f64> = country.regions.iter().map(|r| f64::from(r.1)).collect();
    let (region, territories, utc_offset_hours) =
        country.regions[weighted(&mut rng, &region_weights).unwrap_or(0)];
    let territory = format!(
        "{}-{region}-{:02}",
        country.code,
        rng.random_range(1..=territories)
    );

    // Mobility: some HCPs trained or grew up elsewhere.
    let name_pool = if chance(&mut rng, 0.12) {
        pick(&mut rng, &COUNTRIES).unwrap_or(country)
    } else {
        country
    };
    let first = pick(&mut rng, name_pool.first_names)
        .copied()
        .unwrap_or("Alex");
    let last = pick(&mut rng, name_pool.last_names)
        .copied()
        .unwrap_or("Smith");

    let specialty_weights: Vec<f64> = SPECIALTIES.iter().map(|s| s.weight).collect();
    let specialty = &SPECIALTIES[weighted(&mut rng, &specialty_weights).unwrap_or(0)];
    let specialist = specialty.prescriber && specialty.name != "general_practice";

    let digital = unit(&mut rng);
    let mut affinity = Affinity {
        email: clamp01(0.55 * digital + 0.45 * unit(&mut rng)),
        face_to_face: clamp01(unit(&mut rng).powf(0.8)),
        remote: clamp01(0.5 * digital + 0.5 * unit(&mut rng)),
        web: clamp01(0.7 * digital + 0.3 * unit(&mut rng)),
        webinar: clamp01(0.4 * digital + 0.6 * unit(&mut rng).powi(2)),
        survey: clamp01(unit(&mut rng).powi(2)),
    };
    let kol = chance(&mut rng, if specialist { 0.08 } else { 0.01 });
    let early_adopter = chance(&mut rng, 0.12);
    let mut engagement = lognormal(&mut rng, 0.7, 0.85).min(8.0);
    if kol {
        engagement *= 1.6;
        affinity.webinar = clamp01(affinity.webinar + 0.3);
    }

    let mut topics = [0.0; 7];
    for t in &mut topics {
        *t = unit(&mut rng).powi(2) * 0.6;
    }
    let favourite = Topic::ALL[rng.random_range(0..Topic::ALL.len())];
    topics[favourite.index()] = 0.7 + 0.3 * unit(&mut rng);
    let lean = match specialty.name {
        "pharmacy" => Some(Topic::Dosing),
        "nursing" => Some(Topic::PatientSupport),
        _ if kol => Some(Topic::Guidelines),
        _ => None,
    };
    if let Some(t) = lean {
        topics[t.index()] = clamp01(topics[t.index()] + 0.3);
    }

    let rx = if specialty.prescriber && chance(&mut rng, 0.65) {
        let product = weighted(&mut rng, &specialty.relevance.map(|r| r * r));
        product.map(|product| Prescribing {
            product,
            weekly_packs: lognormal(&mut rng, 0.8, 0.8),
            responsiveness: lognormal(&mut rng, 0.08, 0.7),
            growth: if early_adopter && product == CARDIOZAN {
                0.6 + unit(&mut rng)
            } else {
                0.2 * unit(&mut rng) - 0.05
            },
        })
    } else {
        None
    };
    let high_prescriber = rx.as_ref().is_some_and(|r| r.weekly_packs > 1.8);

    let mut segments = Vec::new();
    if kol {
        segments.push("kol");
    }
    if high_prescriber {
        segments.push("high_prescriber");
    }
    if digital + 0.25 * unit(&mut rng) > 0.9 {
        segments.push("digital_native");
    }
    if affinity.face_to_face + 0.25 * unit(&mut rng) > 0.95 {
        segments.push("rep_preferred");
    }
    if early_adopter {
        segments.push("early_adopter");
    }
    segments.truncate(3);

    let has_email = chance(&mut rng, 0.65 + 0.2 * digital);
    let email = has_email.then(|| {
        let domain = pick(&mut rng, country.email_domains)
            .copied()
            .unwrap_or("clinic.example.org");
        format!(
            "{}.{}.{number}@{domain}",
            ascii_name(first),
            ascii_name(last)
        )
    });
    let email_id = email.clone().filter(|_| chance(&mut rng, 0.82));
    let consent = email.as_ref().filter(|_| chance(&mut rng, 0.86)).map(|_| {
        // Most consents are collected at the start of the period; the rest trickle in.
        let granted = if chance(&mut rng, 0.8) {
            0.1 * unit(&mut rng)
        } else {
            0.1 + 0.8 * unit(&mut rng)
        };
        let withdrawn = chance(&mut rng, 0.04).then(|| granted + (1.0 - granted) * unit(&mut rng));
        ConsentPlan { granted, withdrawn }
    });
    let web_id = chance(&mut rng, 0.2 + 0.5 * affinity.web).then(|| web_id(index as u64));

    let relevant = specialty.relevance.iter().any(|r| *r >= 0.5);
    let in_call_plan = chance(
        &mut rng,
        match (specialty.prescriber, relevant) {
            (true, true) => 0.75,
            (false, _) => 0.35,
            (true, false) => 0.1,
        },
    );
    let no_see = chance(&mut rng, 0.18);
    let priority = if kol || high_prescriber { 2.0 } else { 1.0 };
    let visits_per_month = if in_call_plan && !no_see {
        0.45 * priority * (0.4 + affinity.face_to_face)
    } else {
        0.0
    };
    let remote_calls_per_month = if in_call_plan {
        let base = if no_see { 0.35 } else { 0.12 };
        base * priority * (0.3 + 1.4 * affinity.remote)
    } else {
        0.0
    };

    let crm_id = crm_id(index as u64);
    let mut external_ids = vec![ExternalId {
        system: "crm".into(),
        id: crm_id.clone(),
    }];
    if let Some(e) = &email_id {
        external_ids.push(ExternalId {
            system: "email".into(),
            id: e.clone(),
        });
    }
    if let Some(w) = &web_id {
        external_ids.push(ExternalId {
            system: "web".into(),
            id: w.clone(),
        });
    }

    let hcp = HcpInput {
        name: Some(format!("{first} {last}")),
        specialty: Some(specialty.name.into()),
        country: Some(country.code.into()),
        territory: Some(territory.clone()),
        segments: segments.into_iter().map(String::from).collect(),
        email,
        external_ids,
        restricted_products: trial_restrictions(number),
    }
    .validate(&format!("hcp-{number:06}"))?;

    let persona = Persona {
        hcp_id: hcp.id.as_str().to_owned(),
        country: country.code,
        kol,
        utc_offset_hours,
        currency: country.currency,
        price_factor: country.price_factor,
        engagement,
        affinity,
        topics,
        relevance: specialty.relevance,
        machine_opens: chance(&mut rng, 0.1),
        bad_address: chance(&mut rng, 0.015),
        consent,
        visits_per_month,
        remote_calls_per_month,
        rx,
        crm_id,
        email_id,
        web_id,
        rep_id: format!("rep-{territory}"),
    };
    Ok((hcp, persona))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_in_every_country_makes_a_valid_hcp() {
        for country in &COUNTRIES {
            for first in country.first_names {
                for last in country.last_names {
                    for domain in country.email_domains {
                        let email =
                            format!("{}.{}.1@{domain}", ascii_name(first), ascii_name(last));
                        assert!(email.is_ascii() && domain.contains(".example."), "{email}");
                        let hcp = HcpInput {
                            name: Some(format!("{first} {last}")),
                            specialty: Some("cardiology".into()),
                            country: Some(country.code.into()),
                            territory: Some(format!(
                                "{}-{}-01",
                                country.code, country.regions[0].0
                            )),
                            email: Some(email),
                            ..HcpInput::default()
                        };
                        hcp.validate("hcp-000001").unwrap();
                    }
                }
            }
        }
    }

    #[test]
    fn transliterates_names_for_email() {
        assert_eq!(ascii_name("Müller"), "mueller");
        assert_eq!(ascii_name("Lefèvre"), "lefevre");
        assert_eq!(ascii_name("Élodie"), "elodie");
        assert_eq!(ascii_name("Schäfer"), "schaefer");
        assert_eq!(ascii_name("Díaz"), "diaz");
    }

    #[test]
    fn crm_ids_are_distinct_and_salesforce_shaped() {
        let ids: std::collections::HashSet<String> = (0..100_000).map(crm_id).collect();
        assert_eq!(ids.len(), 100_000);
        let one = crm_id(122);
        assert_eq!(one.len(), 18);
        assert!(one.starts_with("0015g00000"));
    }
}
