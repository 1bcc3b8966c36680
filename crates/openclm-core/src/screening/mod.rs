//! Adverse-event screening of free text: the lexicon of products, AE terms and special situations,
//! and the rules (negation, misspellings, the four minimum criteria) that decide whether a text may
//! report an adverse event.
//!
//! Every free-text input (call notes, survey comments, email replies, medical-information requests)
//! is screened before anything else reads it; a hit opens a case for the pharmacovigilance officer.
//! A missed AE costs far more than a false alarm, so the rules lean towards flagging: a term counts
//! unless a negation clearly governs it.
//!
//! How a text is read:
//! 1. It is split into lower-case words and clause marks (`.`, `;`, `,` and the like). `didn't`
//!    becomes `didnt`; hyphens split words, so `off-label` is `off label` on both sides.
//! 2. Each word is mapped to lexicon words: exactly, by a plain inflection (`rashes`, `itched`),
//!    or as a misspelling within a small edit distance (`nausia`, `anaphylaxsis`).
//! 3. Phrases are matched left to right, longest first. Besides findings (AE terms and special
//!    situations) the lexicon holds negation cues, words that end a clause (`but`, `apart from`),
//!    and phrases that only look like cues or findings (`no longer`, `not sure`, `email fatigue`,
//!    `the link is broken`); matching those first keeps them from being read as what they resemble.
//! 4. A finding is negated when a cue precedes it closely in the same clause (or follows it, for
//!    cues such as `ruled out` and `none`), or when it continues a negated list (`no nausea,
//!    vomiting or diarrhoea`).
//!
//! The vocabulary (terms, cues, patient words, …) is data: the files of `data/screening/`, read
//! by `vocabulary`. The code is split by step: `tokens` (1), `spelling` (2), `lexicon`
//! (how phrases become patterns) and `matching` (3), `negation` (4), and `patient` for the
//! patient criterion.

mod lexicon;
mod matching;
mod negation;
mod patient;
mod spelling;
mod tokens;
mod vocabulary;

#[cfg(test)]
mod tests;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use lexicon::{Cue, Kind, Pattern, WordEntry, WordFlag};
use matching::Text;
use spelling::{Candidates, Letters};
use tokens::{TokenKind, tokenize};
use vocabulary::vocabulary;

/// A brand's product as it may be named in text: the brand name and its generic (INN) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub brand: String,
    #[serde(default)]
    pub generics: Vec<String>,
}

/// The situations pharmacovigilance must hear about even when no adverse event came of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SpecialSituation {
    Pregnancy,
    Overdose,
    Misuse,
    OffLabel,
    LackOfEfficacy,
    ProductComplaint,
}

impl SpecialSituation {
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialSituation::Pregnancy => "pregnancy",
            SpecialSituation::Overdose => "overdose",
            SpecialSituation::Misuse => "misuse",
            SpecialSituation::OffLabel => "off_label",
            SpecialSituation::LackOfEfficacy => "lack_of_efficacy",
            SpecialSituation::ProductComplaint => "product_complaint",
        }
    }
}

/// Which of the four minimum criteria of a valid AE report the text appears to contain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criteria {
    /// An identifiable patient is mentioned ("my patient", "a 54-year-old", "Mrs K", "she").
    pub patient: bool,
    /// The source identifies the reporter; screening cannot tell this from the text.
    pub reporter: bool,
    /// One of the lexicon's products is named.
    pub product: bool,
    /// An adverse-event term or a special situation is present and not negated.
    pub event: bool,
}

/// What screening found in one text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    /// Brand names of the products named (by brand or generic name), deduplicated, in lexicon order.
    pub products: Vec<String>,
    /// Adverse-event terms found and not negated, as the lexicon's canonical term (e.g. "rash",
    /// "nausea"), deduplicated, in order of first mention.
    pub events: Vec<String>,
    /// Special situations found and not negated, deduplicated, in the enum's order.
    pub situations: Vec<SpecialSituation>,
    pub criteria: Criteria,
}

impl Screening {
    /// A potential AE: an event term or a special situation that is not negated.
    pub fn is_hit(&self) -> bool {
        !self.events.is_empty() || !self.situations.is_empty()
    }
}

/// The lexicon: products (configurable per brand) plus built-in AE and special-situation terms,
/// with extra terms a company may add.
///
/// Building it indexes every phrase by its first word and every correctable word by its first
/// letter and length, so that [`Lexicon::screen`] does a few hash look-ups per word of text.
#[derive(Debug, Clone)]
pub struct Lexicon {
    products: Vec<Product>,
    words: Vec<WordEntry>,
    word_ids: FxHashMap<Box<str>, u32>,
    /// Correctable words with the letters they use, by (first-letter group, length in chars).
    fuzzy_index: FxHashMap<(char, usize), Vec<(Letters, u32)>>,
    patterns: Vec<Pattern>,
    /// Indices of the non-product patterns, by the id of their first word.
    starting_with: Vec<Vec<u32>>,
    /// Indices of the product patterns, by the id of their first word.
    products_starting_with: Vec<Vec<u32>>,
    /// Indices of the patterns that begin with a product name.
    product_led: Vec<u32>,
    events: Vec<Box<str>>,
    event_ids: FxHashMap<Box<str>, u32>,
    /// Words never corrected as misspellings: real words one edit away from a lexicon word.
    common: FxHashSet<&'static str>,
}

impl Lexicon {
    /// A lexicon of the built-in vocabulary and `products`.
    pub fn new(products: Vec<Product>) -> Self {
        let vocabulary = vocabulary();
        let mut lexicon = Lexicon {
            products: Vec::new(),
            words: Vec::new(),
            word_ids: FxHashMap::default(),
            fuzzy_index: FxHashMap::default(),
            patterns: Vec::new(),
            starting_with: Vec::new(),
            products_starting_with: Vec::new(),
            product_led: Vec::new(),
            events: Vec::new(),
            event_ids: FxHashMap::default(),
            common: vocabulary.common_words.iter().copied().collect(),
        };
        // Patterns that span the same words are ranked by insertion order, so the look-alikes
        // come first: a phrase that only resembles a cue or a finding must win the tie.
        for spec in &vocabulary.pseudo_cues {
            lexicon.add_spec(spec, Kind::Pseudo);
        }
        for (specs, cue) in [
            (&vocabulary.negations_before, Cue::BEFORE),
            (&vocabulary.negations_after, Cue::AFTER),
            (&vocabulary.negations_either_side, Cue::EITHER_SIDE),
            (
                &vocabulary.negations_after_past_comma,
                Cue::AFTER_PAST_COMMA,
            ),
        ] {
            for spec in specs {
                lexicon.add_spec(spec, Kind::Negation(cue));
            }
        }
        for spec in &vocabulary.clause_breaks {
            lexicon.add_spec(spec, Kind::ClauseBreak);
        }
        for group in &vocabulary.situation_terms {
            for spec in &group.phrases {
                let kind = Kind::Finding {
                    event: None,
                    situation: Some(group.key),
                };
                lexicon.add_spec(spec, kind);
            }
        }
        for group in &vocabulary.events_in_situations {
            let (canonical, situation) = group.key;
            let event = lexicon.event_id(canonical);
            for spec in &group.phrases {
                let kind = Kind::Finding {
                    event: Some(event),
                    situation: Some(situation),
                };
                lexicon.add_spec(spec, kind);
            }
        }
        for group in &vocabulary.event_terms {
            let event = lexicon.event_id(group.key);
            for spec in &group.phrases {
                let kind = Kind::Finding {
                    event: Some(event),
                    situation: None,
                };
                lexicon.add_spec(spec, kind);
            }
        }
        for (words, flag) in [
            (&vocabulary.patient_words, WordFlag::Patient),
            (&vocabulary.filler_words, WordFlag::Filler),
            (&vocabulary.list_words, WordFlag::List),
        ] {
            for word in words {
                let id = lexicon.intern(word, false);
                let entry = &mut lexicon.words[id as usize];
                match flag {
                    WordFlag::Patient => entry.patient = true,
                    WordFlag::Filler => entry.filler = true,
                    WordFlag::List => entry.list = true,
                }
            }
        }
        for (index, product) in products.iter().enumerate() {
            for name in std::iter::once(&product.brand).chain(&product.generics) {
                lexicon.add_words(name, Kind::Product(index as u32));
            }
        }
        lexicon.products = products;
        lexicon
    }

    /// Adds company-specific AE terms (canonical term, lower case).
    ///
    /// A term is matched as the words it is made of, with the same case folding and misspelling
    /// tolerance as the built-in terms, and reported as itself.
    pub fn with_extra_terms(mut self, terms: impl IntoIterator<Item = String>) -> Self {
        for term in terms {
            let canonical = term.trim().to_lowercase();
            if tokenize(&canonical).tokens.is_empty() {
                continue;
            }
            let event = self.event_id(&canonical);
            let kind = Kind::Finding {
                event: Some(event),
                situation: None,
            };
            self.add_words(&canonical, kind);
        }
        self
    }

    /// Screens `text`; `reporter_known` says whether the source identifies the reporter (an HCP on
    /// record), which sets `criteria.reporter`.
    pub fn screen(&self, text: &str, reporter_known: bool) -> Screening {
        let tokenized = tokenize(text);
        let mut scratch = String::new();
        let candidates: Vec<Candidates> = tokenized
            .tokens
            .iter()
            .map(|token| match token.kind {
                TokenKind::Word => self.candidates(tokenized.word(token), &mut scratch),
                TokenKind::Comma | TokenKind::Stop => Candidates::default(),
            })
            .collect();
        let text = Text {
            tokens: &tokenized.tokens,
            candidates: &candidates,
        };

        let products = self.products_named(&text);
        let matches = self.matches(&text);
        let (events, situations) = self.findings(&text, &matches);
        let criteria = Criteria {
            patient: self.mentions_patient(&tokenized, &candidates),
            reporter: reporter_known,
            product: !products.is_empty(),
            event: !events.is_empty() || !situations.is_empty(),
        };
        Screening {
            products,
            events,
            situations,
            criteria,
        }
    }
}
