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

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

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
            common: COMMON_WORDS.iter().copied().collect(),
        };
        // Patterns that span the same words are ranked by insertion order, so the look-alikes
        // come first: a phrase that only resembles a cue or a finding must win the tie.
        for spec in PSEUDO_CUES {
            lexicon.add_spec(spec, Kind::Pseudo);
        }
        for (specs, cue) in [
            (NEGATIONS_BEFORE, Cue::BEFORE),
            (NEGATIONS_AFTER, Cue::AFTER),
            (NEGATIONS_EITHER_SIDE, Cue::EITHER_SIDE),
            (NEGATIONS_AFTER_PAST_COMMA, Cue::AFTER_PAST_COMMA),
        ] {
            for spec in specs {
                lexicon.add_spec(spec, Kind::Negation(cue));
            }
        }
        for spec in CLAUSE_BREAKS {
            lexicon.add_spec(spec, Kind::ClauseBreak);
        }
        for (situation, specs) in SITUATION_TERMS {
            for spec in *specs {
                let kind = Kind::Finding {
                    event: None,
                    situation: Some(*situation),
                };
                lexicon.add_spec(spec, kind);
            }
        }
        for (canonical, situation, specs) in EVENTS_IN_SITUATION {
            let event = lexicon.event_id(canonical);
            for spec in *specs {
                let kind = Kind::Finding {
                    event: Some(event),
                    situation: Some(*situation),
                };
                lexicon.add_spec(spec, kind);
            }
        }
        for (canonical, specs) in EVENT_TERMS {
            let event = lexicon.event_id(canonical);
            for spec in *specs {
                let kind = Kind::Finding {
                    event: Some(event),
                    situation: None,
                };
                lexicon.add_spec(spec, kind);
            }
        }
        for (words, flag) in [
            (PATIENT_WORDS, WordFlag::Patient),
            (FILLER_WORDS, WordFlag::Filler),
            (LIST_WORDS, WordFlag::List),
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

    fn event_id(&mut self, canonical: &str) -> u32 {
        if let Some(&id) = self.event_ids.get(canonical) {
            return id;
        }
        let id = self.events.len() as u32;
        self.events.push(canonical.into());
        self.event_ids.insert(canonical.into(), id);
        id
    }

    /// Interns `word`; a word used in a finding or a product name may also be reached by a
    /// misspelling of it (`correctable`).
    fn intern(&mut self, word: &str, correctable: bool) -> u32 {
        let id = match self.word_ids.get(word) {
            Some(&id) => id,
            None => {
                let id = self.words.len() as u32;
                self.words.push(WordEntry {
                    chars: word.chars().collect(),
                    correctable: false,
                    patient: false,
                    filler: false,
                    list: false,
                });
                self.word_ids.insert(word.into(), id);
                self.starting_with.push(Vec::new());
                self.products_starting_with.push(Vec::new());
                id
            }
        };
        let entry = &mut self.words[id as usize];
        if correctable && !entry.correctable {
            entry.correctable = true;
            let chars = &entry.chars;
            if chars.len() >= MIN_FUZZY_CHARS
                && chars.len() <= MAX_FUZZY_CHARS
                && chars.iter().all(|c| c.is_alphabetic())
            {
                self.fuzzy_index
                    .entry((letter_group(chars[0]), chars.len()))
                    .or_default()
                    .push((Letters::of(chars), id));
            }
        }
        id
    }

    /// Adds a built-in phrase: `{a|b}` gives alternatives, `~` or `~N` lets up to 3 or N words
    /// pass, and `<product>` stands for any of the lexicon's products.
    fn add_spec(&mut self, spec: &str, kind: Kind) {
        let mut surfaces = Vec::new();
        expand_alternatives(spec, &mut surfaces);
        let correctable = matches!(kind, Kind::Finding { .. } | Kind::Product(_));
        for surface in surfaces {
            let mut elems = Vec::new();
            for piece in surface.split_whitespace() {
                if let Some(count) = piece.strip_prefix('~') {
                    elems.push(Elem::Gap(count.parse().unwrap_or(DEFAULT_GAP)));
                } else if piece == "<product>" {
                    elems.push(Elem::AnyProduct);
                } else {
                    let tokenized = tokenize(piece);
                    for token in &tokenized.tokens {
                        if token.kind == TokenKind::Word {
                            let id = self.intern(tokenized.word(token), correctable);
                            elems.push(Elem::Word(id));
                        }
                    }
                }
            }
            debug_assert!(
                matches!(elems.first(), Some(Elem::Word(_) | Elem::AnyProduct))
                    && !matches!(elems.last(), Some(Elem::Gap(_))),
                "a built-in phrase must start with a word or <product> and not end with a gap: {spec:?}"
            );
            self.add_pattern(elems, kind);
        }
    }

    /// Adds a phrase given as plain words: a product name or a company's own term.
    fn add_words(&mut self, phrase: &str, kind: Kind) {
        let tokenized = tokenize(phrase);
        let elems: Vec<Elem> = tokenized
            .tokens
            .iter()
            .filter(|token| token.kind == TokenKind::Word)
            .map(|token| Elem::Word(self.intern(tokenized.word(token), true)))
            .collect();
        self.add_pattern(elems, kind);
    }

    fn add_pattern(&mut self, elems: Vec<Elem>, kind: Kind) {
        let index = self.patterns.len() as u32;
        match elems.first() {
            Some(Elem::Word(first)) => {
                let by_first = match kind {
                    Kind::Product(_) => &mut self.products_starting_with,
                    _ => &mut self.starting_with,
                };
                by_first[*first as usize].push(index);
            }
            Some(Elem::AnyProduct) => self.product_led.push(index),
            Some(Elem::Gap(_)) | None => return,
        }
        self.patterns.push(Pattern {
            elems: elems.into_boxed_slice(),
            kind,
        });
    }

    /// The lexicon words `word` may stand for: itself, its uninflected form, or the words it is a
    /// likely misspelling of.
    fn candidates(&self, word: &str, scratch: &mut String) -> Candidates {
        let mut found = Candidates::default();
        if let Some(&id) = self.word_ids.get(word) {
            found.push(id);
            found.exact = true;
            return found;
        }
        if word.len() < 4 || !word.chars().all(char::is_alphabetic) || self.common.contains(word) {
            return found;
        }
        for (suffix, replacement) in INFLECTIONS {
            let Some(stem) = word.strip_suffix(suffix) else {
                continue;
            };
            scratch.clear();
            scratch.push_str(stem);
            scratch.push_str(replacement);
            if scratch.len() < 4 {
                continue;
            }
            if let Some(&id) = self.word_ids.get(scratch.as_str())
                && self.words[id as usize].correctable
            {
                found.push(id);
                return found;
            }
        }
        self.correct(word, &mut found);
        found
    }

    /// Collects the correctable words nearest to `word` within the misspelling bound: a
    /// Damerau-Levenshtein distance of 1, or 2 when both words have at least 9 letters. Misspellings
    /// rarely change the first letter unless it is a vowel (`affect` for `effect`), so only words in
    /// the same first-letter group and of a length within the bound are compared.
    fn correct(&self, word: &str, found: &mut Candidates) {
        let mut query = ['\0'; MAX_FUZZY_CHARS];
        let mut len = 0;
        for c in word.chars() {
            if len == MAX_FUZZY_CHARS {
                return;
            }
            query[len] = c;
            len += 1;
        }
        if len < MIN_FUZZY_CHARS {
            return;
        }
        let query = &query[..len];
        let group = letter_group(query[0]);
        let letters = Letters::of(query);
        let reach = if len >= LONG_WORD_CHARS { 2 } else { 1 };
        let mut best = usize::MAX;
        for other_len in len.saturating_sub(reach)..=len + reach {
            let Some(ids) = self.fuzzy_index.get(&(group, other_len)) else {
                continue;
            };
            for (other_letters, id) in ids {
                let id = *id;
                let other = &self.words[id as usize].chars;
                let bound = if len.min(other.len()) >= LONG_WORD_CHARS {
                    2
                } else {
                    1
                };
                if !letters.within(other_letters, bound.min(best)) {
                    continue;
                }
                let Some(distance) = edit_distance_within(query, other, bound.min(best)) else {
                    continue;
                };
                if distance < best {
                    best = distance;
                    found.clear();
                }
                found.push(id);
            }
        }
    }

    fn products_named(&self, text: &Text) -> Vec<String> {
        let mut named = vec![false; self.products.len()];
        for at in 0..text.tokens.len() {
            for &first in text.candidates[at].ids() {
                for &index in &self.products_starting_with[first as usize] {
                    let pattern = &self.patterns[index as usize];
                    if let (Kind::Product(product), Some(_)) =
                        (pattern.kind, self.match_pattern(pattern, text, at))
                    {
                        named[product as usize] = true;
                    }
                }
            }
        }
        let mut brands: Vec<String> = Vec::new();
        for (product, _) in self.products.iter().zip(&named).filter(|(_, n)| **n) {
            if !brands.contains(&product.brand) {
                brands.push(product.brand.clone());
            }
        }
        brands
    }

    /// Matches phrases left to right; at each word the phrase reaching furthest wins, ties going
    /// to the phrase added first.
    fn matches(&self, text: &Text) -> Vec<Match> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < text.tokens.len() {
            let mut best: Option<(usize, u32)> = None;
            let mut consider = |index: u32| {
                let pattern = &self.patterns[index as usize];
                if let Some(end) = self.match_pattern(pattern, text, at) {
                    let better = match best {
                        None => true,
                        Some((best_end, best_index)) => {
                            end > best_end || (end == best_end && index < best_index)
                        }
                    };
                    if better {
                        best = Some((end, index));
                    }
                }
            };
            let candidates = text.candidates[at].ids();
            for &first in candidates {
                for &index in &self.starting_with[first as usize] {
                    consider(index);
                }
            }
            let starts_product = candidates
                .iter()
                .any(|&id| !self.products_starting_with[id as usize].is_empty());
            if starts_product {
                for &index in &self.product_led {
                    consider(index);
                }
            }
            match best {
                Some((end, index)) => {
                    found.push(Match {
                        kind: self.patterns[index as usize].kind,
                        start: at,
                        end,
                    });
                    at = end;
                }
                None => at += 1,
            }
        }
        found
    }

    /// Where a match of `pattern` starting at token `at` ends, if it matches. Only findings and
    /// product names accept inflected or misspelled words: a cue must be written as it is.
    fn match_pattern(&self, pattern: &Pattern, text: &Text, at: usize) -> Option<usize> {
        let exact = !matches!(pattern.kind, Kind::Finding { .. } | Kind::Product(_));
        self.match_elems(&pattern.elems, exact, text, at)
    }

    /// Where a match of `elems` starting at token `at` ends, if it matches. A gap takes as few
    /// words as it can and never crosses punctuation.
    fn match_elems(&self, elems: &[Elem], exact: bool, text: &Text, at: usize) -> Option<usize> {
        let Some((first, rest)) = elems.split_first() else {
            return Some(at);
        };
        match *first {
            Elem::Word(id) => {
                let candidates = text.candidates.get(at)?;
                if candidates.contains(id) && (candidates.exact || !exact) {
                    self.match_elems(rest, exact, text, at + 1)
                } else {
                    None
                }
            }
            Elem::Gap(max) => {
                for skipped in 0..=usize::from(max) {
                    if skipped > 0 && text.tokens.get(at + skipped - 1)?.kind != TokenKind::Word {
                        return None;
                    }
                    if let Some(end) = self.match_elems(rest, exact, text, at + skipped) {
                        return Some(end);
                    }
                }
                None
            }
            Elem::AnyProduct => {
                for &first in text.candidates.get(at)?.ids() {
                    for &index in &self.products_starting_with[first as usize] {
                        let product = &self.patterns[index as usize];
                        if let Some(end) = self.match_pattern(product, text, at)
                            && let Some(end) = self.match_elems(rest, exact, text, end)
                        {
                            return Some(end);
                        }
                    }
                }
                None
            }
        }
    }

    /// The findings that no negation governs: canonical events in order of first mention, and
    /// special situations in the enum's order.
    fn findings(&self, text: &Text, matches: &[Match]) -> (Vec<String>, Vec<SpecialSituation>) {
        let mut break_at = vec![false; text.tokens.len()];
        for m in matches.iter().filter(|m| m.kind == Kind::ClauseBreak) {
            break_at[m.start] = true;
        }
        // Content words before each token: articles, pronouns and auxiliaries do not widen the
        // distance, so "none of her patients have had X" is as close as "none had X".
        let mut content_before = Vec::with_capacity(text.tokens.len() + 1);
        content_before.push(0usize);
        for (token, candidates) in text.tokens.iter().zip(text.candidates) {
            let content = token.kind == TokenKind::Word
                && !candidates
                    .ids()
                    .iter()
                    .any(|&id| self.words[id as usize].filler);
            content_before.push(content_before.last().copied().unwrap_or(0) + usize::from(content));
        }
        let scope = Scope {
            text,
            break_at: &break_at,
            content_before: &content_before,
        };

        let findings: Vec<usize> = (0..matches.len())
            .filter(|&i| matches!(matches[i].kind, Kind::Finding { .. }))
            .collect();
        let negated_before: Vec<bool> = findings
            .iter()
            .map(|&i| scope.negated_before(matches, i))
            .collect();
        let negated_after: Vec<bool> = findings
            .iter()
            .map(|&i| scope.negated_after(matches, i))
            .collect();
        let mut negated: Vec<bool> = negated_before
            .iter()
            .zip(&negated_after)
            .map(|(before, after)| before | after)
            .collect();

        // A negation carries along a list of findings: "no nausea, vomiting or diarrhoea". A comma
        // alone ends a clause, so a list joined by commas carries it only when "or"/"nor" shows it
        // is one enumeration ("no rash, headache since Monday" keeps the headache).
        let links: Vec<Option<Link>> = (0..findings.len())
            .map(|k| {
                let previous = matches[*findings.get(k.checked_sub(1)?)?].end;
                self.list_link(text, previous, matches[findings[k]].start)
            })
            .collect();
        let mut k = 0;
        while k < findings.len() {
            let mut end = k + 1;
            while end < findings.len() && links[end].is_some() {
                end += 1;
            }
            let has_or = links[k + 1..end].iter().flatten().any(|link| link.or);
            let carries = |link: &Link| has_or || !link.comma;
            let mut carry = false;
            for j in k..end {
                if j > k && !links[j].as_ref().is_some_and(carries) {
                    carry = false;
                }
                carry |= negated_before[j];
                negated[j] |= carry;
            }
            carry = false;
            for j in (k..end).rev() {
                if j + 1 < end && !links[j + 1].as_ref().is_some_and(carries) {
                    carry = false;
                }
                carry |= negated_after[j];
                negated[j] |= carry;
            }
            k = end;
        }

        let mut events: Vec<String> = Vec::new();
        let mut situations: Vec<SpecialSituation> = Vec::new();
        for (&i, _) in findings.iter().zip(&negated).filter(|(_, n)| !**n) {
            let Kind::Finding { event, situation } = matches[i].kind else {
                continue;
            };
            if let Some(event) = event {
                let term = &self.events[event as usize];
                if !events.iter().any(|e| **e == **term) {
                    events.push(term.to_string());
                }
            }
            if let Some(situation) = situation
                && !situations.contains(&situation)
            {
                situations.push(situation);
            }
        }
        situations.sort_unstable();
        (events, situations)
    }

    /// How two findings are joined when only list punctuation and conjunctions stand between them.
    fn list_link(&self, text: &Text, from: usize, to: usize) -> Option<Link> {
        if to - from > 3 {
            return None;
        }
        let mut link = Link::default();
        for at in from..to {
            match text.tokens[at].kind {
                TokenKind::Comma => link.comma = true,
                TokenKind::Stop => return None,
                TokenKind::Word => {
                    let ids = text.candidates[at].ids();
                    if !ids.iter().any(|&id| self.words[id as usize].list) {
                        return None;
                    }
                    link.or |= ids.iter().any(|&id| {
                        matches!(
                            &*self.words[id as usize].chars,
                            ['o', 'r'] | ['n', 'o', 'r']
                        )
                    });
                }
            }
        }
        Some(link)
    }

    fn mentions_patient(&self, tokenized: &Tokenized, candidates: &[Candidates]) -> bool {
        if tokenized.initials {
            return true;
        }
        let words: Vec<(&str, &Candidates)> = tokenized
            .tokens
            .iter()
            .zip(candidates)
            .filter(|(token, _)| token.kind == TokenKind::Word)
            .map(|(token, candidates)| (tokenized.word(token), candidates))
            .collect();
        words.iter().enumerate().any(|(i, (word, candidates))| {
            let next = |k: usize| words.get(i + k).map_or("", |(w, _)| *w);
            candidates
                .ids()
                .iter()
                .any(|&id| self.words[id as usize].patient)
                || is_age(word, next(1), next(2))
                || (matches!(*word, "aged" | "age") && age_number(next(1)).is_some())
        })
    }
}

/// `62 yo`, `62yo`, `45m`, `62 y o`, `a 54 year old` (from `54-year-old`), `3 months old`.
fn is_age(word: &str, next: &str, after_next: &str) -> bool {
    let digits = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    if digits == 0 || age_number(&word[..digits]).is_none() {
        return false;
    }
    let suffix = &word[digits..];
    if !suffix.is_empty() {
        return matches!(
            suffix,
            "yo" | "yof" | "yom" | "y" | "yr" | "yrs" | "m" | "f"
        );
    }
    match next {
        "yo" | "yof" | "yom" => true,
        "y" => after_next == "o",
        "year" | "years" | "yr" | "yrs" | "month" | "months" => after_next == "old",
        _ => false,
    }
}

fn age_number(word: &str) -> Option<u32> {
    if word.is_empty() || word.len() > 3 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok().filter(|age| (1..=120).contains(age))
}

/// Expands `{a|b}` alternatives (not nested) into every surface form.
fn expand_alternatives(spec: &str, out: &mut Vec<String>) {
    let Some(open) = spec.find('{') else {
        out.push(spec.to_owned());
        return;
    };
    let Some(close) = spec[open..].find('}').map(|c| open + c) else {
        debug_assert!(false, "unbalanced braces in a built-in phrase: {spec:?}");
        return;
    };
    for alternative in spec[open + 1..close].split('|') {
        let surface = format!("{}{}{}", &spec[..open], alternative, &spec[close + 1..]);
        expand_alternatives(&surface, out);
    }
}

/// Vowels are confused with each other at the start of a word (`affect`/`effect`,
/// `oedema`/`edema`); other first letters are kept.
fn letter_group(first: char) -> char {
    if matches!(first, 'a' | 'e' | 'i' | 'o' | 'u') {
        'a'
    } else {
        first
    }
}

/// Which letters a word uses and how often (`a`–`z`; other characters share six slots). An edit
/// changes at most two counts by one each, so comparing letters rules out most words before the
/// edit distance is computed: first the set of letters (one instruction), then the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Letters {
    set: u32,
    counts: [u8; 32],
}

impl Letters {
    fn of(chars: &[char]) -> Self {
        let mut letters = Letters {
            set: 0,
            counts: [0; 32],
        };
        for &c in chars {
            let slot = if c.is_ascii_lowercase() {
                c as usize - 'a' as usize
            } else {
                26 + c as usize % 6
            };
            letters.set |= 1 << slot;
            letters.counts[slot] = letters.counts[slot].saturating_add(1);
        }
        letters
    }

    /// Whether the two words may be within `edits` of each other.
    fn within(&self, other: &Letters, edits: usize) -> bool {
        (self.set ^ other.set).count_ones() as usize <= 2 * edits
            && self
                .counts
                .iter()
                .zip(&other.counts)
                .map(|(a, b)| usize::from(a.abs_diff(*b)))
                .sum::<usize>()
                <= 2 * edits
    }
}

/// The optimal-string-alignment (restricted Damerau-Levenshtein) distance between `a` and `b`,
/// if it is at most `bound`. Both must be at most [`MAX_FUZZY_CHARS`] long; rows live on the stack
/// and the computation stops as soon as a row exceeds the bound.
fn edit_distance_within(a: &[char], b: &[char], bound: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > bound || a.len() > MAX_FUZZY_CHARS || b.len() > MAX_FUZZY_CHARS {
        return None;
    }
    let width = b.len() + 1;
    let mut before_previous = [0usize; MAX_FUZZY_CHARS + 1];
    let mut previous = [0usize; MAX_FUZZY_CHARS + 1];
    let mut current = [0usize; MAX_FUZZY_CHARS + 1];
    for (j, cell) in previous.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        current[0] = i;
        let mut row_min = i;
        for j in 1..width {
            let substitution = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut cell = substitution.min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cell = cell.min(before_previous[j - 2] + 1);
            }
            current[j] = cell;
            row_min = row_min.min(cell);
        }
        if row_min > bound {
            return None;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()];
    (distance <= bound).then_some(distance)
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Word,
    /// A comma: it ends a clause but may separate the items of one list.
    Comma,
    /// Any other punctuation that ends a clause.
    Stop,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    /// Byte range of the word in [`Tokenized::lower`].
    start: usize,
    end: usize,
}

struct Tokenized {
    lower: String,
    tokens: Vec<Token>,
    /// Two dotted single capitals in a row, as in `J.D.` or `J. D.`: a patient's initials.
    initials: bool,
}

impl Tokenized {
    fn word(&self, token: &Token) -> &str {
        &self.lower[token.start..token.end]
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02bc}')
}

/// Splits `input` into lower-case words and clause marks. Any string is valid input.
fn tokenize(input: &str) -> Tokenized {
    let mut lower = String::with_capacity(input.len());
    let mut tokens = Vec::with_capacity(input.len() / 5 + 1);
    let mut word: Option<(usize, bool, usize)> = None; // (start, first is upper case, chars)
    let mut previous_initial = false;
    let mut initials = false;
    let mut previous = ' ';
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if c.is_ascii_alphanumeric() {
            let (_, _, count) = word.get_or_insert((lower.len(), c.is_ascii_uppercase(), 0));
            *count += 1;
            lower.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            let (_, _, count) = word.get_or_insert((lower.len(), c.is_uppercase(), 0));
            *count += 1;
            lower.extend(c.to_lowercase());
        } else if is_apostrophe(c) && word.is_some() && next.is_some_and(char::is_alphanumeric) {
            // "didn't" reads as "didnt", "husband's" as "husbands".
        } else {
            if let Some((start, upper, count)) = word.take() {
                let initial = count == 1 && upper && c == '.';
                initials |= initial && previous_initial;
                previous_initial = initial;
                tokens.push(Token {
                    kind: TokenKind::Word,
                    start,
                    end: lower.len(),
                });
            }
            let spaced = previous.is_whitespace() && next.is_none_or(char::is_whitespace);
            let kind = match c {
                ',' => Some(TokenKind::Comma),
                // "2.5" and "e.g" keep their clause.
                '.' if !next.is_some_and(char::is_alphanumeric) => Some(TokenKind::Stop),
                ';' | '!' | '?' | '\n' | '(' | ')' | '[' | ']' | '|' | '\u{2022}' | '\u{2013}'
                | '\u{2014}' => Some(TokenKind::Stop),
                '-' if spaced => Some(TokenKind::Stop),
                _ => None,
            };
            if let Some(kind) = kind {
                let end = lower.len();
                tokens.push(Token {
                    kind,
                    start: end,
                    end,
                });
            }
        }
        previous = c;
    }
    if let Some((start, _, _)) = word {
        tokens.push(Token {
            kind: TokenKind::Word,
            start,
            end: lower.len(),
        });
    }
    Tokenized {
        lower,
        tokens,
        initials,
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

/// Words a text word may stand for; most words stand for none or one.
#[derive(Debug, Clone, Copy, Default)]
struct Candidates {
    ids: [u32; MAX_CANDIDATES],
    len: u8,
    /// The word is written as in the lexicon, not inflected or misspelled.
    exact: bool,
}

impl Candidates {
    fn ids(&self) -> &[u32] {
        &self.ids[..usize::from(self.len)]
    }

    fn contains(&self, id: u32) -> bool {
        self.ids().contains(&id)
    }

    fn push(&mut self, id: u32) {
        if usize::from(self.len) < MAX_CANDIDATES && !self.contains(id) {
            self.ids[usize::from(self.len)] = id;
            self.len += 1;
        }
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

struct Text<'a> {
    tokens: &'a [Token],
    candidates: &'a [Candidates],
}

#[derive(Debug, Clone)]
struct WordEntry {
    chars: Box<[char]>,
    correctable: bool,
    patient: bool,
    filler: bool,
    list: bool,
}

#[derive(Debug, Clone, Copy)]
enum WordFlag {
    Patient,
    Filler,
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Word(u32),
    /// Up to this many words of the same clause.
    Gap(u8),
    AnyProduct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Finding {
        event: Option<u32>,
        situation: Option<SpecialSituation>,
    },
    Negation(Cue),
    /// Looks like a cue or a finding but is neither ("no longer", "not sure", "email fatigue").
    Pseudo,
    ClauseBreak,
    Product(u32),
}

/// Which side of a finding a negation cue governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cue {
    before: bool,
    after: bool,
    /// "Side effects, none": a following cue that reaches back past one comma.
    past_comma: bool,
}

impl Cue {
    const BEFORE: Cue = Cue {
        before: true,
        after: false,
        past_comma: false,
    };
    const AFTER: Cue = Cue {
        before: false,
        after: true,
        past_comma: false,
    };
    const EITHER_SIDE: Cue = Cue {
        before: true,
        after: true,
        past_comma: false,
    };
    const AFTER_PAST_COMMA: Cue = Cue {
        before: true,
        after: true,
        past_comma: true,
    };
}

#[derive(Debug, Clone)]
struct Pattern {
    elems: Box<[Elem]>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
struct Match {
    kind: Kind,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Link {
    comma: bool,
    or: bool,
}

/// Clause boundaries and distances within one text, for deciding what a cue governs.
struct Scope<'a> {
    text: &'a Text<'a>,
    break_at: &'a [bool],
    content_before: &'a [usize],
}

impl Scope<'_> {
    /// Commas between tokens `from..to`, or `None` when anything else ends the clause there.
    fn commas_between(&self, from: usize, to: usize) -> Option<usize> {
        let mut commas = 0;
        for at in from..to {
            match self.text.tokens[at].kind {
                TokenKind::Comma => commas += 1,
                TokenKind::Stop => return None,
                TokenKind::Word if self.break_at[at] => return None,
                TokenKind::Word => {}
            }
        }
        Some(commas)
    }

    fn close(&self, from: usize, to: usize, window: usize) -> bool {
        to - from <= MAX_CUE_REACH && self.content_before[to] - self.content_before[from] <= window
    }

    fn negated_before(&self, matches: &[Match], finding: usize) -> bool {
        let start = matches[finding].start;
        for cue in matches[..finding].iter().rev() {
            if !self.close(cue.end, start, NEGATION_WINDOW) {
                return false;
            }
            if self.commas_between(cue.end, start) != Some(0) {
                return false;
            }
            if let Kind::Negation(Cue { before: true, .. }) = cue.kind {
                return true;
            }
        }
        false
    }

    fn negated_after(&self, matches: &[Match], finding: usize) -> bool {
        let end = matches[finding].end;
        for cue in &matches[finding + 1..] {
            if !self.close(end, cue.start, AFTER_NEGATION_WINDOW) {
                return false;
            }
            let Some(commas) = self.commas_between(end, cue.start) else {
                return false;
            };
            match cue.kind {
                Kind::Negation(Cue {
                    after: true,
                    past_comma,
                    ..
                }) if commas == 0 || (past_comma && commas == 1) => return true,
                _ if commas > 1 => return false,
                _ => {}
            }
        }
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Bounds

const MIN_FUZZY_CHARS: usize = 5;
const LONG_WORD_CHARS: usize = 9;
const MAX_FUZZY_CHARS: usize = 24;
const MAX_CANDIDATES: usize = 4;
const DEFAULT_GAP: u8 = 3;
/// Content words a negation cue may stand before what it negates ("no reports of any rash").
const NEGATION_WINDOW: usize = 4;
/// Content words a trailing cue may stand after what it negates ("rash was ruled out").
const AFTER_NEGATION_WINDOW: usize = 3;
/// Words of any kind between a cue and what it negates.
const MAX_CUE_REACH: usize = 8;

/// Inflections tried, in order, when a word is not in the lexicon as written.
const INFLECTIONS: &[(&str, &str)] = &[
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("d", ""),
    ("ing", ""),
    ("ing", "e"),
];

// ---------------------------------------------------------------------------------------------
// Vocabulary

/// Adverse-event terms by canonical term, as HCPs and patients write them.
const EVENT_TERMS: &[(&str, &[&str])] = &[
    (
        "side effect",
        &["side effect", "side effects", "sideeffect", "sideeffects"],
    ),
    (
        "adverse event",
        &[
            "adverse {event|events|reaction|reactions|effect|effects|experience|experiences}",
            "adverse drug {reaction|reactions|event|events}",
            "{adr|adrs}",
        ],
    ),
    (
        "reaction",
        &["reaction", "reactions", "reacted", "reacting"],
    ),
    (
        "allergic reaction",
        &[
            "allergic",
            "allergy",
            "allergies",
            "hypersensitivity",
            "hypersensitive",
        ],
    ),
    (
        "intolerance",
        &[
            "intolerance",
            "intolerant",
            "intolerable",
            "unbearable",
            "{couldnt|cant|cannot|didnt|unable to|not able to} tolerate",
            "{could|did|can|does} not tolerate",
            "{not|poorly|badly|barely} {tolerating|tolerated}",
        ],
    ),
    (
        "rash",
        &[
            "rash",
            "rashy",
            "skin rash",
            "skin eruption",
            "eruption",
            "eruptions",
            "erythema",
            "redness",
            "red {spots|blotches|patches|bumps}",
            "blotchy",
            "blotches",
            "dermatitis",
            "skin {went|turned|became|is|was|looks} red",
        ],
    ),
    (
        "urticaria",
        &["hives", "urticaria", "welts", "wheals", "nettle rash"],
    ),
    (
        "pruritus",
        &[
            "itch",
            "itching",
            "itchy",
            "itchiness",
            "itches",
            "itched",
            "pruritus",
            "pruritic",
            "scratching",
        ],
    ),
    (
        "skin reaction",
        &[
            "skin reaction",
            "skin reactions",
            "blister",
            "blisters",
            "blistering",
            "blistered",
            "peeling",
            "skin {peeling|burning|stinging|irritation|lesion|lesions|sores}",
            "irritation",
            "photosensitivity",
            "sunburn",
            "sunburnt",
            "acne",
            "stevens johnson",
        ],
    ),
    (
        "nausea",
        &[
            "nausea",
            "nauseous",
            "nauseated",
            "nauseating",
            "queasy",
            "queasiness",
            "sick",
            "sickness",
            "{upset|unsettled} {stomach|tummy}",
            "{stomach|tummy|gastric|gi|gastrointestinal} upset",
            "{upsets|upset|upsetting} {my|her|his|their|the} {stomach|tummy}",
        ],
    ),
    (
        "vomiting",
        &[
            "vomiting",
            "vomit",
            "vomits",
            "vomited",
            "emesis",
            "{throwing|threw|throw|throws|thrown} up",
            "puking",
            "puked",
            "puke",
            "retching",
            "retched",
        ],
    ),
    (
        "diarrhoea",
        &[
            "diarrhoea",
            "diarrhea",
            "diarrhoeal",
            "diarrheal",
            "{loose|runny|watery} {stools|stool|bowels|motions}",
            "the runs",
        ],
    ),
    ("constipation", &["constipation", "constipated"]),
    (
        "abdominal pain",
        &[
            "{stomach|tummy|belly|abdominal|abdomen|gut} {ache|aches|pain|pains|cramps|cramp|cramping|discomfort}",
            "stomachache",
            "bellyache",
            "colic",
        ],
    ),
    (
        "dyspepsia",
        &[
            "indigestion",
            "heartburn",
            "dyspepsia",
            "acid reflux",
            "reflux",
        ],
    ),
    (
        "bloating",
        &[
            "bloating",
            "bloated",
            "flatulence",
            "{excess|excessive|trapped|lots of|bad} {wind|gas}",
        ],
    ),
    (
        "headache",
        &[
            "headache",
            "headaches",
            "head ache",
            "head aches",
            "head pain",
            "migraine",
            "migraines",
            "{head|heads} {hurts|hurt|hurting|pounding|throbbing}",
            "{pounding|splitting|throbbing} head",
        ],
    ),
    (
        "dizziness",
        &[
            "dizziness",
            "dizzy",
            "light headed",
            "lightheaded",
            "lightheadedness",
            "light headedness",
            "vertigo",
            "giddy",
            "giddiness",
            "woozy",
            "unsteady",
            "{room|head} spinning",
            "{off|loss of|lost her|lost his} balance",
        ],
    ),
    (
        "fatigue",
        &[
            "fatigue",
            "fatigued",
            "tired",
            "tiredness",
            "exhausted",
            "exhaustion",
            "lethargy",
            "lethargic",
            "listless",
            "sluggish",
            "{no|lack of|low|zero|without any} energy",
            "{worn|wiped} out",
        ],
    ),
    (
        "somnolence",
        &[
            "drowsy",
            "drowsiness",
            "sleepy",
            "sleepiness",
            "somnolence",
            "sedated",
            "sedation",
            "hard to {wake|rouse}",
            "{sleeping|sleeps|slept} {all|most of|much of|half} {the|} {day|time|afternoon|morning}",
        ],
    ),
    (
        "asthenia",
        &[
            "weakness",
            "asthenia",
            "feeble",
            "{feels|felt|feeling|feel|very|so|became|becoming|getting|got} weak",
            "weak {legs|arms|muscles|and}",
        ],
    ),
    (
        "liver enzymes raised",
        &[
            "{raised|elevated|high|increased|abnormal|deranged|rising} {liver enzymes|liver enzyme|lfts|lft|liver function|liver tests|alt|ast|transaminases|transaminase|ggt|bilirubin}",
            "{liver enzymes|liver enzyme|lfts|lft|liver function|liver function tests|liver tests|alt|ast|transaminases|transaminase|ggt|bilirubin} ~3 {raised|elevated|high|higher|increased|abnormal|deranged|up|rose|risen|rising|doubled|tripled|uln}",
            "transaminitis",
        ],
    ),
    (
        "liver injury",
        &[
            "hepatotoxicity",
            "hepatitis",
            "liver {toxicity|damage|injury|problems|problem|failure|disease}",
        ],
    ),
    (
        "jaundice",
        &[
            "jaundice",
            "jaundiced",
            "yellowing",
            "yellow {skin|eyes|tinge}",
            "yellowish",
            "{skin|eyes} ~2 yellow",
        ],
    ),
    (
        "hypoglycaemia",
        &[
            "hypoglycaemia",
            "hypoglycemia",
            "hypoglycaemic",
            "hypoglycemic",
            "hypo",
            "hypos",
            "{low|very low|dangerously low} {blood sugar|blood sugars|blood glucose|sugar|sugars|glucose|bm|bms}",
            "{blood sugar|blood sugars|blood glucose|sugar|sugars|glucose|bm|bms} ~2 {dropped|drops|dropping|fell|falls|falling|crashed|crashes|crashing|plummeted|low}",
        ],
    ),
    (
        "hyperglycaemia",
        &[
            "hyperglycaemia",
            "hyperglycemia",
            "hyperglycaemic",
            "hyperglycemic",
            "{blood sugar|blood sugars|blood glucose|sugar|sugars|glucose} ~2 {spiked|spiking|spikes|spike|soared|shot up|rocketed}",
        ],
    ),
    (
        "bleeding",
        &[
            "bleeding",
            "bleed",
            "bleeds",
            "bled",
            "haemorrhage",
            "hemorrhage",
            "haemorrhaging",
            "hemorrhaging",
            "nosebleed",
            "nosebleeds",
            "nose {bleed|bleeds|bleeding}",
            "epistaxis",
            "blood in {the|her|his|their|my} ~1 {urine|stool|stools|vomit|sputum|toilet|wee|poo}",
            "blood in {urine|stool|stools|vomit|sputum}",
            "{coughing|coughed|vomiting|vomited|passing|passed} {up|} blood",
            "{black|tarry} stools",
            "haematuria",
            "hematuria",
        ],
    ),
    ("bruising", &["bruising", "bruise", "bruises", "bruised"]),
    (
        "oedema",
        &[
            "swelling",
            "swellings",
            "swollen",
            "swelled",
            "swell",
            "swells",
            "oedema",
            "edema",
            "puffy",
            "puffiness",
            "fluid retention",
            "retaining fluid",
            "angioedema",
            "angio oedema",
            "{ankles|ankle|legs|leg|feet|foot|face|lips|lip|hands|hand|eyes|eyelids|tongue} ~2 {ballooned|blew up|puffed up|swelled up|doubled in size}",
        ],
    ),
    (
        "anaphylaxis",
        &[
            "anaphylaxis",
            "anaphylactic",
            "anaphylactoid",
            "throat {closing|closed|swelling|swelled|swollen|tightening|tight}",
            "tongue {swelling|swelled|swollen}",
        ],
    ),
    (
        "palpitations",
        &[
            "palpitations",
            "palpitation",
            "palps",
            "racing heart",
            "pounding heart",
            "heart ~1 {racing|pounding|fluttering|flutters|flutter|thumping|skipping|races|raced|pounds|pounded|skips|skipped}",
            "irregular {heartbeat|heart beat|heart rate|pulse|rhythm}",
            "arrhythmia",
            "arrhythmias",
            "tachycardia",
            "{fast|rapid|racing} {heart rate|heartbeat|heart beat|pulse}",
            "skipped beats",
        ],
    ),
    (
        "bradycardia",
        &[
            "bradycardia",
            "slow {heart rate|heartbeat|heart beat|pulse}",
            "{heart rate|pulse} ~2 {dropped|fell|slowed}",
        ],
    ),
    (
        "hypotension",
        &[
            "hypotension",
            "low blood pressure",
            "{blood pressure|bp} ~2 {dropped|drops|dropping|fell|crashed|plummeted|too low|very low}",
            "postural drop",
        ],
    ),
    (
        "insomnia",
        &[
            "insomnia",
            "sleeplessness",
            "sleepless",
            "{cant|cannot|couldnt|unable to|not able to} sleep",
            "{can|could} not sleep",
            "{trouble|difficulty|difficulties|problems|problem|issues} sleeping",
            "not sleeping",
            "{poor|broken|disturbed} sleep",
            "sleep {problems|disturbance|disturbances}",
        ],
    ),
    (
        "hair loss",
        &[
            "hair loss",
            "hairloss",
            "losing {her|his|my|their|} hair",
            "lost {her|his|my|their} hair",
            "hair ~1 {falling|fell|falls|coming|came} out",
            "hair {thinning|thinned}",
            "thinning hair",
            "alopecia",
            "bald patches",
            "going bald",
        ],
    ),
    (
        "death",
        &[
            "death",
            "deaths",
            "died",
            "dies",
            "dead",
            "deceased",
            "passed away",
            "fatal",
            "fatality",
        ],
    ),
    (
        "hospitalisation",
        &[
            "hospitalised",
            "hospitalized",
            "hospitalisation",
            "hospitalization",
            "hospitalisations",
            "hospitalizations",
            "{admitted|taken|rushed|went|go|gone|going|sent|brought|ended up|end up|ambulance} {to|into|in} {hospital|a hospital|the hospital|a&e|casualty|er|the er|the emergency department|the emergency room|emergency|icu|the icu|intensive care|itu}",
            "{was|were|been|is|being|got|kept|she was|he was} admitted",
            "admitted {to|overnight|for|with}",
            "{hospital|emergency} admission",
            "{was|is|been|were|still|spent ~3} in {hospital|the hospital|intensive care|icu}",
            "{called|call|calling} an ambulance",
            "{a&e|er} visit",
        ],
    ),
    (
        "fever",
        &[
            "fever",
            "fevers",
            "feverish",
            "pyrexia",
            "pyrexial",
            "febrile",
            "high temperature",
            "{ran|running|had|has|with|developed} a temperature",
            "chills",
            "rigors",
            "shivering",
        ],
    ),
    ("cough", &["cough", "coughing", "coughs", "coughed"]),
    (
        "dyspnoea",
        &[
            "dyspnoea",
            "dyspnea",
            "short of breath",
            "shortness of breath",
            "breathless",
            "breathlessness",
            "{difficulty|difficulties|trouble|struggling|struggled|problems} breathing",
            "{cant|cannot|couldnt|unable to} breathe",
            "{could|can} not breathe",
            "wheezing",
            "wheeze",
            "wheezy",
            "{chest tightness|tight chest}",
            "breathing {problems|difficulties|difficulty}",
        ],
    ),
    (
        "chest pain",
        &[
            "chest {pain|pains|discomfort}",
            "angina",
            "pain in {her|his|my|the} chest",
        ],
    ),
    (
        "pain",
        &[
            "pain", "pains", "painful", "ache", "aches", "ached", "aching", "achy", "sore",
            "soreness", "hurts", "hurting", "cramp", "cramps", "cramping",
        ],
    ),
    (
        "myalgia",
        &[
            "myalgia",
            "{muscle|muscles|muscular} {pain|pains|ache|aches|aching|cramps|cramp}",
        ],
    ),
    (
        "arthralgia",
        &[
            "arthralgia",
            "{joint|joints} {pain|pains|ache|aches|aching|hurt}",
        ],
    ),
    ("back pain", &["back {pain|ache|aches}", "backache"]),
    (
        "tremor",
        &[
            "tremor",
            "tremors",
            "trembling",
            "shaking",
            "shaky",
            "shakes",
            "shakiness",
            "jittery",
        ],
    ),
    (
        "seizure",
        &[
            "seizure",
            "seizures",
            "convulsion",
            "convulsions",
            "convulsing",
            "{had|having|has|a} {fit|fits}",
            "epileptic fit",
        ],
    ),
    (
        "syncope",
        &[
            "fainted",
            "faint",
            "fainting",
            "faints",
            "syncope",
            "{passed|pass|passing|passes} out",
            "{blacked|black|blacking} out",
            "blackout",
            "blackouts",
            "collapsed",
            "collapse",
            "{lost|loss of} consciousness",
            "unconscious",
            "unresponsive",
        ],
    ),
    (
        "vision disorder",
        &[
            "{blurred|blurry|double|poor|reduced|loss of} vision",
            "blurring",
            "blurry",
            "vision {problems|problem|changes|loss|blurred|blurry|disturbance|disturbances|goes|went}",
            "visual {disturbance|disturbances|problems}",
            "{eye|eyes} {pain|irritation|problems|infection|redness}",
            "{red|sore|watery} eyes",
        ],
    ),
    (
        "tinnitus",
        &[
            "tinnitus",
            "ringing in {her|his|my|the|their|both} ears",
            "{ringing|buzzing} ears",
            "ears {ringing|buzzing}",
        ],
    ),
    (
        "dry mouth",
        &["dry mouth", "mouth ~1 dry", "thirsty", "excessive thirst"],
    ),
    (
        "taste disturbance",
        &[
            "{metallic|bitter|strange|funny|odd|weird|horrible|nasty|altered} taste",
            "taste {changes|change|disturbance|disturbances|altered}",
            "{loss of|lost her|lost his|lost my} taste",
            "dysgeusia",
        ],
    ),
    (
        "decreased appetite",
        &[
            "{loss of|lost|lack of|no|poor|reduced|decreased|losing} {appetite|her appetite|his appetite}",
            "appetite loss",
            "anorexia",
            "{not|stopped|cant|cannot|unable to} eating",
            "off {her|his|their|my} food",
        ],
    ),
    (
        "weight gain",
        &[
            "weight gain",
            "{gained|gaining|gains} weight",
            "{gained|gaining|put on|putting on} ~2 {kg|kilos|kilograms|pounds|lbs|stone|weight}",
            "weight {went up|increased|increase}",
        ],
    ),
    (
        "weight loss",
        &[
            "weight loss",
            "{lost|losing} weight",
            "{lost|losing} ~2 {kg|kilos|kilograms|pounds|lbs|stone}",
            "weight {dropped|fell|went down}",
        ],
    ),
    (
        "depression",
        &[
            "depression",
            "depressed",
            "low mood",
            "feeling {down|low}",
            "tearful",
            "crying all the time",
        ],
    ),
    (
        "mood swings",
        &[
            "mood {swings|changes|change}",
            "moody",
            "irritable",
            "irritability",
        ],
    ),
    (
        "suicidal ideation",
        &[
            "suicidal",
            "suicide",
            "self harm",
            "{thoughts|thought} of {ending|killing}",
        ],
    ),
    (
        "anxiety",
        &[
            "anxiety",
            "anxious",
            "panic {attack|attacks}",
            "panicky",
            "nervousness",
            "agitation",
            "agitated",
            "restless",
            "restlessness",
        ],
    ),
    (
        "confusion",
        &[
            "confusion",
            "confused",
            "disorientated",
            "disoriented",
            "disorientation",
            "delirium",
            "forgetful",
            "forgetfulness",
            "memory {loss|problems|problem|issues|lapses}",
            "brain fog",
            "foggy",
            "spaced out",
            "spacey",
        ],
    ),
    (
        "paraesthesia",
        &[
            "numbness",
            "numb",
            "tingling",
            "tingly",
            "pins and needles",
            "paraesthesia",
            "paresthesia",
            "burning sensation",
            "neuropathy",
        ],
    ),
    (
        "flushing",
        &[
            "flushing",
            "flushed",
            "flushes",
            "hot {flushes|flashes|flush|flash}",
        ],
    ),
    (
        "sweating",
        &[
            "sweating",
            "sweats",
            "sweaty",
            "clammy",
            "perspiration",
            "night sweats",
        ],
    ),
    (
        "sore throat",
        &[
            "sore throat",
            "throat {pain|irritation}",
            "hoarse",
            "hoarseness",
        ],
    ),
    (
        "infection",
        &[
            "infection",
            "infections",
            "infected",
            "uti",
            "utis",
            "thrush",
            "pneumonia",
            "sepsis",
            "cellulitis",
        ],
    ),
    (
        "stroke",
        &[
            "stroke",
            "strokes",
            "mini stroke",
            "tia",
            "cerebrovascular accident",
        ],
    ),
    (
        "heart attack",
        &[
            "heart {attack|attacks}",
            "myocardial infarction",
            "cardiac {arrest|event}",
            "worsening heart failure",
        ],
    ),
    (
        "thrombosis",
        &[
            "blood {clot|clots}",
            "clot",
            "clots",
            "thrombosis",
            "dvt",
            "deep vein thrombosis",
            "pulmonary embolism",
            "embolism",
        ],
    ),
    (
        "kidney injury",
        &[
            "kidney {problems|problem|failure|injury|damage|issues}",
            "renal {failure|injury|toxicity|problems}",
            "aki",
            "nephrotoxicity",
            "creatinine ~3 {rose|raised|risen|up|rising|increased|elevated|high|doubled}",
            "{raised|elevated|high|rising|increased} creatinine",
            "egfr ~2 {dropped|fell|declined|down}",
        ],
    ),
    ("pancreatitis", &["pancreatitis", "inflamed pancreas"]),
    (
        "acidosis",
        &["lactic acidosis", "acidosis", "ketoacidosis", "dka"],
    ),
    ("dehydration", &["dehydration", "dehydrated"]),
    (
        "injection site reaction",
        &[
            "injection site {reaction|reactions|pain|redness|swelling|rash|lump|lumps|nodule|bruising|bleeding|irritation}",
        ],
    ),
    (
        "mouth ulcers",
        &["ulcer", "ulcers", "ulceration", "mouth sores"],
    ),
    (
        "sexual dysfunction",
        &[
            "erectile dysfunction",
            "impotence",
            "impotent",
            "{loss of|low|reduced|no} libido",
            "sexual {dysfunction|problems}",
        ],
    ),
    (
        "hallucinations",
        &[
            "hallucinations",
            "hallucinating",
            "hallucinated",
            "seeing things",
            "hearing voices",
        ],
    ),
    (
        "abnormal dreams",
        &[
            "nightmares",
            "nightmare",
            "{vivid|strange|bad|weird|abnormal} dreams",
        ],
    ),
    (
        "fall",
        &[
            "{had|having|has|suffered} a fall",
            "{fell|falls|falling} {over|down|and}",
            "{nearly|almost} fell",
            "fell ~2 {stairs|steps|shower|bath|bathroom|toilet|floor|street|pavement|bed|kitchen|garden}",
        ],
    ),
    (
        "fracture",
        &[
            "fracture",
            "fractures",
            "fractured",
            "broke {her|his|their|my|a} {hip|wrist|arm|leg|ankle|bone|rib|ribs|foot|finger|toe|shoulder|collarbone|nose}",
            "broken {hip|wrist|arm|leg|ankle|bone|bones|rib|ribs|foot|finger|toe|shoulder|nose}",
        ],
    ),
    (
        "medication error",
        &[
            "{medication|dosing|dispensing|prescribing} error",
            "{took|taken|given|gave|dispensed|received|prescribed|administered|injected} {the|a} wrong {medicine|medication|drug|tablets|tablet|product|pills}",
            "{took|taken|given|gave|administered|injected|swallowed} ~5 by {mistake|accident}",
            "accidentally {took|taken|given|gave|injected|swallowed|ingested|used}",
            "{dose|doses|tablet|tablets|pill|pills|injection|<product>} by {mistake|accident|error}",
        ],
    ),
    (
        "malaise",
        &[
            "unwell",
            "malaise",
            "{felt|feel|feels|feeling} {awful|terrible|horrible|dreadful|rough|ill|funny|strange|weird|odd|poorly|rubbish|lousy|unwell|off|bad}",
            "not feeling {well|right|great|good|herself|himself|themselves|myself}",
            "{not|isnt|wasnt|dont|doesnt|didnt} feel {well|right|good|great}",
            "{became|become|becomes|got|gets|getting|fell|was|is} ill",
            "illness",
            "off {colour|color}",
            "under the weather",
            "made {her|him|me|them} ill",
            "poorly",
            "{flu like|new|developed|withdrawal} symptoms",
            "{feel|feels|felt|feeling} {drunk|tipsy|high|stoned|out of it|zonked|drugged|like a zombie|like a different person}",
        ],
    ),
    (
        "stopped treatment",
        &[
            "{stopped|stop|stopping|quit|quitting|discontinued|discontinue|discontinuing|ceased|came off|come off|coming off|taken off|took her off|took him off} ~4 {because|due to|owing to|as a result of}",
            "{had to|forced to} {stop|come off|discontinue}",
        ],
    ),
    (
        "abnormal blood test",
        &[
            "{potassium|sodium|calcium|magnesium|platelets|platelet count|haemoglobin|hemoglobin|hb|white cell count|white cells|wbc|neutrophils|ck|inr|triglycerides|uric acid|lactate|amylase|lipase|troponin} ~3 {high|low|raised|elevated|dropped|fell|rose|abnormal|deranged|up|down|increased|decreased}",
            "{high|low|raised|elevated|abnormal|deranged} {potassium|sodium|calcium|magnesium|platelets|platelet count|haemoglobin|hemoglobin|white cell count|neutrophils|inr|troponin}",
            "{hyperkalaemia|hyperkalemia|hypokalaemia|hypokalemia|hyponatraemia|hyponatremia|hypernatraemia|hypernatremia}",
            "{thrombocytopenia|anaemia|anemia|anaemic|anemic|neutropenia|leukopenia|pancytopenia|agranulocytosis}",
        ],
    ),
    (
        "injury",
        &[
            "injury",
            "injuries",
            "injured",
            "{hit|banged|bumped|cut} {her|his|their|my|the} head",
            "head injury",
            "concussion",
        ],
    ),
    (
        "malignancy",
        &[
            "cancer",
            "tumour",
            "tumor",
            "malignancy",
            "lymphoma",
            "leukaemia",
            "leukemia",
        ],
    ),
    ("toxicity", &["toxicity", "poisoning"]),
];

/// Events that are also special situations: a pregnancy's outcome.
const EVENTS_IN_SITUATION: &[(&str, SpecialSituation, &[&str])] = &[
    (
        "miscarriage",
        SpecialSituation::Pregnancy,
        &[
            "miscarriage",
            "miscarried",
            "miscarriages",
            "lost the baby",
            "stillbirth",
            "stillborn",
        ],
    ),
    (
        "birth defect",
        SpecialSituation::Pregnancy,
        &[
            "{birth|heart|cardiac|septal|neural tube} {defect|defects}",
            "congenital ~1 {anomaly|anomalies|abnormality|abnormalities|defect|defects|malformation|malformations}",
            "malformation",
            "malformations",
        ],
    ),
    (
        "premature birth",
        SpecialSituation::Pregnancy,
        &[
            "premature {birth|baby|delivery|labour|labor}",
            "born {early|prematurely|premature}",
            "preterm {birth|delivery|labour|labor|baby}",
        ],
    ),
    (
        "overdose",
        SpecialSituation::Overdose,
        &["overdose", "overdosed", "overdoses", "overdosing", "od"],
    ),
];

/// Special situations, as written.
const SITUATION_TERMS: &[(SpecialSituation, &[&str])] = &[
    (
        SpecialSituation::Pregnancy,
        &[
            "pregnant",
            "pregnancy",
            "pregnancies",
            "breastfeeding",
            "breast feeding",
            "breastfed",
            "breast fed",
            "breast milk",
            "breastmilk",
            "lactating",
            "lactation",
            "nursing mother",
            "nursing {her|a|my|the|their} ~3 {baby|infant|newborn|son|daughter|child|old|twins}",
            "expecting a baby",
            "expecting {her|their|a} {first|second|third|baby|child}",
            "expecting twins",
            "{trying|planning|plans|planned|wants} to {conceive|get pregnant}",
            "trying for a baby",
            "conceived",
            "conception",
            "gestation",
            "gestational",
            "trimester",
            "in utero",
            "unborn",
            "{foetus|fetus|foetal|fetal}",
            "{antenatal|prenatal}",
            "gave birth",
            "{delivered|delivering} {a|her|the} {baby|child|son|daughter|twins}",
            "newborn",
        ],
    ),
    (
        SpecialSituation::Overdose,
        &[
            "{took|taken|take|takes|taking|had|swallowed|ingested|injected|given|gave|used|using} ~3 too {many|much}",
            "{twice|double|extra|again|two doses|a second dose} by {mistake|accident|error}",
            "too {many|much} {tablets|pills|capsules|doses|medication|medicine|insulin|units}",
            "double {dose|doses|dosed|dosing|the dose}",
            "doubled ~2 {dose|doses|up}",
            "{doubling|doubles|double} up",
            "{twice|double|triple|treble|three times|several times|ten times|2x|3x} the ~2 {dose|amount|maximum}",
            "{took|taken|take|takes|taking|swallowed|injected|given|gave|used|using} ~3 {extra|additional} {dose|doses|tablet|tablets|pill|pills|injection|injections|capsule|capsules|units}",
            "{took|taken|injected|given|gave|swallowed|had} {two|2|three|3|four|4|several|multiple} {doses|injections}",
            "more than ~3 {prescribed|recommended|directed|advised|instructed|supposed|meant|allowed|told}",
            "more than {the|his|her|their} ~1 {maximum|max}",
            "{above|over|exceeded|exceeding|exceeds|beyond} the ~3 {dose|dosage|maximum|max}",
            "{exceeded|exceeding|exceeds} ~2 {dose|dosage}",
            "{took|taken|taking|injected|given|gave|swallowed} ~4 instead of {one|1|a single|the usual|the prescribed|his usual|her usual}",
            "{took|taken|take|taking|swallowed|ingested|ate} ~2 {whole|entire|full|all the|a handful} ~1 {pack|packet|box|bottle|strip|blister|tablets|pills|weeks|months|week|month|handful}",
            "{took|taken|take|taking|swallowed|ingested} ~5 {all at once|at once|all together|in one go}",
            "{swallowed|ingested} {several|a few|many|some|multiple|lots of|a lot of|a number of|a handful of|the} ~1 {tablets|pills|capsules}",
            "accidental {ingestion|exposure}",
            "{swallowed|ingested|ate|eaten|chewed} {some|several|a few|many|multiple|a handful|all|most|lots} of ~3 {tablets|pills|capsules|medication|medicine|meds|<product>}",
            "{child|children|toddler|baby|kid|kids|infant|grandchild} ~3 {swallowed|ingested|ate|got into|chewed}",
            "{got into|got hold of|got at} ~3 {tablets|pills|medication|medicine|meds|bottle|pack|packet|blister|<product>}",
            "{took|taken|taking|take|injected|had} ~3 twice",
        ],
    ),
    (
        SpecialSituation::Misuse,
        &[
            "misuse",
            "misused",
            "misusing",
            "misuses",
            "abuse",
            "abused",
            "abusing",
            "abuses",
            "abuser",
            "recreational",
            "recreationally",
            "{get|getting|got|gets} high",
            "snort",
            "snorted",
            "snorting",
            "{crushed|crushing|crush|crushes|chewed|chewing|chew|chews|broke|breaking|split|splitting|dissolved|dissolving} ~3 {snort|snorted|snorting|inject|injected|injecting|smoke|smoked|smoking|extended release|modified release|slow release|prolonged release|xr|mr|sr}",
            "{crushed|crushing|crushes} ~2 {tablets|tablet|pills|pill|<product>}",
            "dependence",
            "dependent on ~2 {it|them|tablets|pills|<product>}",
            "addicted",
            "addiction",
            "addictive",
            "craving",
            "cravings",
            "{selling|sold|sells|sell|trading|traded|dealing} ~2 {tablets|pills|medication|meds|prescription|prescriptions|<product>}",
            "{stealing|stole|steals|stolen|steal} ~3 {tablets|pills|medication|medicine|meds|prescription|prescriptions|<product>}",
            "{forged|fake|fraudulent|stolen|altered} {prescription|prescriptions|script|scripts}",
            "prescription fraud",
            "doctor shopping",
            "without {a|any} prescription",
            "{took|take|taking|takes|using|used|uses|use} {my|his|her|their|a} {husbands|wifes|mums|moms|mothers|fathers|dads|sisters|brothers|friends|partners|sons|daughters|neighbours|neighbors|relatives|flatmates|roommates}",
            "{someone|somebody} elses",
            "{shares|shared|sharing|share|giving|gave|gives|lending|lent} {his|her|their|my} ~2 {tablets|pills|medication|medicine|meds|<product>}",
            "{party|street|recreational} {drug|drugs}",
            "{bought|buying|buys|buy|ordered|ordering|purchased|purchasing|getting|obtaining|obtained} ~2 {<product>|tablets|pills|medication|medicine|meds} ~2 {online|abroad|from several|from multiple|from different|from various|on the street|from a friend|from friends|from the internet|on the internet}",
            "for {the|a} {buzz|high|kick|rush}",
            "{hoarding|hoarded|hoards|stockpiling|stockpiled} ~2 {tablets|pills|medication|medicine|meds|<product>}",
            "diversion",
            "diverted",
            "{not|isnt|wasnt|arent} {taking|using} ~2 as {prescribed|directed|intended}",
        ],
    ),
    (
        SpecialSituation::OffLabel,
        &[
            "off label",
            "offlabel",
            "off {licence|license|licensed|licenced}",
            "unlicensed",
            "unlicenced",
            "unapproved",
            "{not|isnt|wasnt|arent|never been} {licensed|licenced|approved|indicated|authorised|authorized} for",
            "{not|isnt|wasnt|arent} {licensed|licenced|approved|indicated|authorised|authorized} in {children|kids|paediatrics|pediatrics|paediatric|pediatric|adolescents|teenagers|pregnancy|infants|under}",
            "outside {the|its|of the|of its|their} ~2 {licence|license|licensed|licenced|label|labelling|labeling|indication|indications|approved|authorisation|authorization|smpc|spc}",
            "{beyond|outwith} {the|its} ~2 {licence|license|label|indication}",
        ],
    ),
    (
        SpecialSituation::LackOfEfficacy,
        &[
            "{not|isnt|wasnt|arent|werent|no longer|stopped|stop|stops} ~1 working",
            "{doesnt|didnt|dont|wont|never} ~2 {work|works|worked}",
            "{does|did|do} not ~2 {work|works|worked}",
            "{not|isnt|wasnt|arent|hasnt|havent|hadnt} {effective|efficacious|helping|helped|controlling|controlled|responding|improving|improved}",
            "{no|little|minimal|zero|limited} {effect|efficacy|benefit|improvement|response}",
            "{made|makes|making} no difference",
            "{no|not} better",
            "{ineffective|ineffectual|inefficacious|useless}",
            "{lack|loss} of {efficacy|effect|effectiveness|response|benefit|control}",
            "{stopped|stops|ceased} helping",
            "{wore|wears|wearing|worn} off",
            "{does|did|do|doing} nothing",
            "{not|isnt|wasnt|stopped|stops|no longer|never} doing {its job|the job|the trick|much|any good|anything}",
            "{less|not as|no longer} effective",
            "{hasnt|havent|has not|have not|didnt|did not|not} {improved|improve|changed|come down|gone down}",
            "{bp|blood pressure|pressure|sugar|sugars|glucose|hba1c|a1c|readings|levels|cholesterol|numbers} ~2 {still|remains|remain|remained|stayed|stays} ~1 {high|uncontrolled|elevated|raised|above target|poorly controlled|not controlled|all over the place|the same|unchanged}",
            "{bp|blood pressure|pressure|sugar|sugars|glucose|hba1c|a1c|readings|levels|cholesterol} ~2 unchanged",
            "{bp|blood pressure|pressure|sugar|sugars|glucose|hba1c|a1c|readings|levels|cholesterol|numbers|symptoms} ~2 {no different|not different|no better|no lower|not any lower|not any better}",
            "{treatment|therapy|therapeutic|drug|medication} failure",
            "<product> ~2 {failed|fails|failing}",
            "{failed|fails|failing} to {work|control|lower|reduce|help|improve|bring}",
            "{non responder|nonresponder|not responding|no response|poor response|inadequate response}",
            "{didnt|did not|hasnt|has not|doesnt|does not|not} ~1 {help|helped|helping|respond|responded}",
        ],
    ),
    (
        SpecialSituation::ProductComplaint,
        &[
            "broken",
            "defective",
            "defect",
            "defects",
            "faulty",
            "malfunction",
            "malfunctioned",
            "malfunctioning",
            "leak",
            "leaking",
            "leaked",
            "leaky",
            "leakage",
            "jammed",
            "tampered",
            "tampering",
            "discoloured",
            "discolored",
            "discolouration",
            "discoloration",
            "{changed|different|wrong|odd|strange|unusual} {colour|color}",
            "{colour|color} ~2 {changed|different|wrong|odd|strange}",
            "particles",
            "particulate",
            "particulates",
            "{floating|foreign} {bits|particles|matter|material|object|objects|body}",
            "{hair|insect|bug|fly|glass|metal|plastic|dirt|debris|speck|specks|black spot|black spots} {in|inside|on} {the|a|my|his|her} {capsule|capsules|tablet|tablets|pill|pills|vial|bottle|pack|box|blister|syringe|pen|cartridge|solution|liquid}",
            "cloudy",
            "crumble",
            "crumbled",
            "crumbling",
            "crumbly",
            "cracked",
            "chipped",
            "damaged",
            "mislabelled",
            "mislabeled",
            "{wrong|incorrect|missing} {label|labelling|labeling|strength|dose|tablets|product|medicine|medication|batch|expiry|pack|packaging|leaflet}",
            "{label|labelling|labeling} ~2 {wrong|incorrect|missing|illegible|unreadable}",
            "{smell|smells|smelled|smelling|smelt|taste|tastes|tasted} ~2 {strange|funny|odd|weird|bad|off|different|wrong|rotten}",
            "{strange|funny|odd|weird|bad|unusual} {smell|odour|odor}",
            "quality {issue|issues|problem|problems|complaint|concern|defect}",
            "{product|technical|device|packaging} {complaint|complaints|issue|issues|problem|problems|fault|failure|defect}",
            "{pen|pens|inhaler|inhalers|device|tablet|tablets|cap|seal|box|pack|packet|packaging|carton|bottle|vial|needle|blister|foil|syringe|cartridge|autoinjector|injector|plunger|dial|button|counter|lid|applicator|ampoule} ~3 {broke|cracked|torn|open|opened|bent|blocked|stuck|empty|crushed|wet|jams|stopped working|not working|wont work|doesnt work|didnt work|wont click|not clicking|wont inject|would not inject|didnt inject|did not inject|failed}",
            "{wont|would not|didnt|did not|does not|doesnt} {click|dispense|spray|retract}",
            "{sprays|spray|dispenses|dispensed|delivers|delivered|releases|released|injects|comes out|came out} nothing",
            "{misfired|misfire|misfires|misfiring}",
            "{fired|discharged|went off|activated|triggered|injected} {early|prematurely|before|too soon|too early|by itself|on its own}",
            "nothing {comes|came|coming} out",
            "missing {tablets|tablet|pills|doses|capsules}",
            "{tablets|pills|capsules|doses} missing",
            "counterfeit",
            "fake {tablets|product|medicine|pills|<product>}",
            "expired {product|tablets|medicine|medication|pen|pens|stock|pack|batch}",
            "{tablets|medicine|product|pen|pens|stock|batch|pack} ~2 expired",
            "contaminated",
            "contamination",
            "mould",
            "mouldy",
            "moldy",
            "{different|wrong} product",
            "{fewer|less} {tablets|pills|capsules} than",
        ],
    ),
];

/// Negation cues that govern what follows them.
const NEGATIONS_BEFORE: &[&str] = &[
    "no",
    "not",
    "without",
    "denies",
    "deny",
    "denying",
    "never",
    "nor",
    "neither",
    "free of",
    "free from",
    "absence of",
    "rules out",
    "negative for",
    "zero",
    "nothing",
    "lack of",
    "{doesnt|didnt|dont|hasnt|havent|hadnt|isnt|wasnt|werent|arent|wont|cant|couldnt|wouldnt}",
];

/// Negation cues that govern what precedes them: "rash was ruled out".
const NEGATIONS_AFTER: &[&str] = &["excluded", "absent", "negative"];

const NEGATIONS_EITHER_SIDE: &[&str] = &[
    "denied",
    "not {reported|observed|seen|noted|present|experienced|found|detected}",
    "not {an issue|a problem|a concern}",
    "ruled out",
];

/// "Side effects, none": cues that reach back past one comma.
const NEGATIONS_AFTER_PAST_COMMA: &[&str] = &["none", "nil"];

/// Phrases that look like a negation cue or a finding but are neither. Matched first, they keep
/// "no longer takes it because of the itching" and "email fatigue" from being misread.
const PSEUDO_CUES: &[&str] = &[
    "no longer",
    "not only",
    "not just",
    "not sure",
    "not certain",
    "not clear",
    "not known",
    "no idea",
    "no doubt",
    "no matter",
    "not necessarily",
    "not yet",
    "not until",
    "{cannot|cant|couldnt|could not|can not|not} rule out",
    "not {ruled out|excluded}",
    "{not|cant|cannot|couldnt|wouldnt|wont|didnt} stop",
    "{dont|didnt|doesnt|do not|did not|does not} {think|believe|know}",
    // Sickness that is absence from work, not nausea.
    "off sick",
    "{called|call|calling|phoned|rang} in sick",
    "sick {leave|day|days|note|pay|of}",
    "{sick and|sick of|sick and tired|tired of}",
    // Pain, fatigue and headaches of business.
    "{real|big|major|huge|logistical|admin|administrative|paperwork|bureaucratic|it|pricing} headache",
    "{hurting|hurts|hurt} {our|the|their|his|her|your|my} {coverage|sales|numbers|business|share|market|uptake|targets|performance|reputation|chances|access|budget|prescribing|brand}",
    "{staff|team|nurses|doctors|reps|everyone|colleagues|receptionists|practice} ~2 {exhausted|tired|fatigued|burnt out|burned out}",
    "allergic to {meetings|long|paperwork|emails|email|reps|marketing|sales|jargon|slides|powerpoint|admin|change|pharma|promotion}",
    "{bleeding|hypoglycaemia|hypoglycemia|hypo|stroke|fracture|infection|cardiovascular|cv} {risk|risks|rate|rates|profile|endpoint|endpoints}",
    "pain {points|point|management|clinic|clinics|relief|specialist|specialists|team|service|services|medicine|nurse|consultant}",
    "{email|emails|message|messaging|zoom|video call|alert|alarm|survey|channel|content|meeting|meetings|screen|decision|campaign|rep|digital|webinar|change|compassion|vaccine|vaccination} fatigue",
    "{positive|good|great|mixed|favourable|favorable|initial|first|warm|enthusiastic|lukewarm|strong} {reaction|reactions|response}",
    "reaction {to|from} {the|our|this|his|her|their} {data|study|studies|results|presentation|webinar|slides|talk|news|launch|campaign|pricing|price|proposal|message|email|offer|programme|program|materials|material|visit|trial|new|updated|latest}",
    "rash {decision|decisions|promise|promises|move|statement}",
    "shaking hands",
    "{shook|shake} hands",
    "{died|dies|dying} {down|out}",
    "{dead|broken} {link|links|url|urls|page|pages|end|ends|line}",
    "{link|links|url|website|site|web page|webpage|page|portal|login|log in|password|app|video|recording|webinar|email|emails|button|form|printer|laptop|ipad|computer|system|zoom|teams|wifi|phone|microphone|audio|camera|screen|download|attachment|invite|invitation} ~2 {not working|isnt working|wasnt working|doesnt work|didnt work|dont work|does not work|did not work|stopped working|wont work|broken|broke|faulty|crashed|down|froze|frozen|failed|wont load|would not load}",
    "{doesnt|dont|didnt|do not|does not|did not|wont|not} work {on|at|in|there|here|weekends|mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|today|tomorrow|full time|part time|with reps|with us}",
    // Claims and endpoints, not events in a patient.
    "{risk|risks|rate|rates|incidence} of ~2 {death|deaths|mortality|stroke|strokes|heart attack|heart attacks|hospitalisation|hospitalisations|hospitalization|hospitalizations|hypoglycaemia|hypoglycemia|hypos|bleeding|bleeds|fractures|admissions|events|side effects|adverse events}",
    "{reduction|reductions|reduce|reduces|reduced|reducing|prevent|prevents|prevented|preventing|prevention} {in|of} ~2 {death|deaths|mortality|stroke|strokes|heart attack|heart attacks|hospitalisation|hospitalisations|hospitalization|hospitalizations|hypoglycaemia|hypoglycemia|hypos|bleeding|bleeds|fractures|admissions|events}",
    "{reduce|reduces|reduced|reducing|lower|lowers|lowered|lowering|cut|cuts} {the|} {risk|rate|rates|incidence} of ~2 {death|deaths|mortality|stroke|strokes|heart attack|heart attacks|hospitalisation|hospitalisations|hospitalization|hospitalizations|hypoglycaemia|hypoglycemia|hypos|bleeding|bleeds|fractures|admissions|events}",
    "{cardiovascular|cv|cardiac|all cause|overall} {death|deaths|mortality|outcomes|events}",
    "{safety|tolerability|side effect|side effects|adverse event|adverse events} {profile|profiles|data|section|information|info|slide|slides|table|summary}",
    "{adverse event|adverse events|side effect|side effects|ae|pharmacovigilance|drug safety} {reporting|report form|form|forms|training|process|procedure|policy|sop|module|requirements|obligations|line|hotline|mailbox|team|department}",
    "abuse {potential|liability|deterrent}",
    "pregnancy {registry|register|category|section|prevention}",
    "{cancer|tumour|tumor} {centre|center|unit|ward|clinic|team|service|services|network|charity|screening|awareness|research|care|nurse|specialist|specialists}",
    "infection {control|prevention}",
    "{confused|confusion} {about|by|over|with|as to|around|regarding|between}",
    "{takes|take|taking|took|taken|given|give|gives} ~3 twice {daily|a day|per day|weekly|a week|a month}",
    "twice {daily|a day|per day|weekly|a week|a month}",
];

/// Words and phrases that end the clause a negation cue governs.
const CLAUSE_BREAKS: &[&str] = &[
    "but",
    "however",
    "although",
    "though",
    "except",
    "whereas",
    "yet",
    "apart from",
    "aside from",
    "other than",
    "besides",
    "when",
    "then",
    "until",
    "since",
    "while",
    "whilst",
    "instead",
];

/// Words that name a person who may be the patient. First-person accounts are not counted: the
/// source tells whether "I" is a patient or a rep.
const PATIENT_WORDS: &[&str] = &[
    "patient",
    "pt",
    "woman",
    "man",
    "lady",
    "gentleman",
    "gent",
    "male",
    "female",
    "boy",
    "girl",
    "child",
    "kid",
    "son",
    "daughter",
    "husband",
    "wife",
    "mother",
    "mum",
    "mom",
    "father",
    "dad",
    "baby",
    "infant",
    "toddler",
    "newborn",
    "teenager",
    "teen",
    "adolescent",
    "grandmother",
    "grandfather",
    "grandma",
    "grandpa",
    "granny",
    "grandson",
    "granddaughter",
    "he",
    "she",
    "him",
    "her",
    "his",
    "hers",
    "himself",
    "herself",
    "mrs",
    "mr",
    "ms",
    "mx",
    "resident",
    "pensioner",
    "elderly",
];

/// Words that do not count towards the distance between a negation cue and its finding.
const FILLER_WORDS: &[&str] = &[
    "a", "an", "the", "any", "of", "in", "on", "at", "to", "for", "with", "by", "from", "has",
    "have", "had", "having", "is", "are", "was", "were", "be", "been", "being", "do", "does",
    "did", "her", "his", "their", "my", "our", "your", "its", "it", "this", "that", "these",
    "those", "such", "single", "known", "other", "further", "new", "signs", "sign", "symptoms",
    "evidence", "history", "reports", "reported", "cases", "case", "episodes", "episode",
];

/// Words that join the items of a list.
const LIST_WORDS: &[&str] = &["or", "and", "nor"];

/// Real words one edit away from a lexicon word ("tried" and "tired", "blend" and "bleed"). They
/// stand for themselves, never for the lexicon word.
const COMMON_WORDS: &[&str] = &[
    "tried",
    "tires",
    "timed",
    "tiled",
    "tiered",
    "tided",
    "hires",
    "hikes",
    "hides",
    "hived",
    "fewer",
    "lever",
    "sever",
    "never",
    "fiver",
    "blend",
    "blends",
    "blended",
    "blending",
    "breed",
    "breeds",
    "breeding",
    "bleep",
    "bleeps",
    "bleeping",
    "broker",
    "brokers",
    "leads",
    "leans",
    "leaps",
    "leaning",
    "leaping",
    "leading",
    "leaded",
    "leafed",
    "leafing",
    "leafy",
    "leaned",
    "leaped",
    "leased",
    "leasing",
    "leaved",
    "leaving",
    "detect",
    "detects",
    "deflect",
    "discovered",
    "discover",
    "cloud",
    "clouds",
    "would",
    "could",
    "depth",
    "depths",
    "dearth",
    "couch",
    "selling",
    "spelling",
    "smelling",
    "dwelling",
    "seating",
    "seated",
    "seats",
    "swearing",
    "sweets",
    "sharing",
    "shaping",
    "shaming",
    "staking",
    "snaking",
    "stakes",
    "snakes",
    "confusing",
    "conclusion",
    "conclusions",
    "concession",
    "connection",
    "convention",
    "conversion",
    "conversions",
    "contention",
    "congestion",
    "confession",
    "confection",
    "concerted",
    "conserved",
    "constitution",
    "constituted",
    "consulting",
    "conversing",
    "flashing",
    "flashed",
    "fitting",
    "fizzy",
    "ditzy",
    "amuse",
    "amused",
    "amuses",
    "amusing",
    "peaking",
    "tapered",
    "tapering",
    "tempered",
    "tempering",
    "pampered",
    "articles",
    "article",
    "acing",
    "acted",
    "acting",
    "acres",
    "arched",
    "arches",
    "arching",
    "ashes",
    "addition",
    "additions",
    "additive",
    "additives",
    "adjective",
    "abduction",
    "abdication",
    "affection",
    "affections",
    "animation",
    "alteration",
    "allergist",
    "allergists",
    "camping",
    "camps",
    "cancel",
    "carving",
    "chill",
    "chilly",
    "chilli",
    "chilis",
    "chiles",
    "chopped",
    "clipped",
    "cloth",
    "clogs",
    "comic",
    "colin",
    "cracker",
    "cramming",
    "cramped",
    "deceptive",
    "deductive",
    "defensive",
    "directive",
    "detective",
    "detectives",
    "defeat",
    "defeats",
    "depressing",
    "dimension",
    "dispersion",
    "diversity",
    "diversify",
    "etched",
    "etches",
    "etching",
    "exhaustive",
    "faculty",
    "fecal",
    "faecal",
    "hunting",
    "hunts",
    "horse",
    "hypertension",
    "hypes",
    "imitation",
    "impatience",
    "importance",
    "inception",
    "induction",
    "inductions",
    "insertion",
    "insertions",
    "inspection",
    "inspections",
    "intention",
    "intentions",
    "invention",
    "inventions",
    "inflation",
    "inflations",
    "inflection",
    "inflections",
    "infliction",
    "inflictions",
    "infractions",
    "indignation",
    "indirection",
    "inoperable",
    "infectious",
    "irrigation",
    "irrigations",
    "irritating",
    "lighthearted",
    "lightheartedness",
    "minuses",
    "missed",
    "misses",
    "mound",
    "nauseam",
    "overcomes",
    "overcoming",
    "overdone",
    "overdoing",
    "overjoyed",
    "overtones",
    "paint",
    "paints",
    "pairs",
    "plains",
    "pawns",
    "pails",
    "palliation",
    "palms",
    "pales",
    "palpation",
    "parenthesis",
    "participate",
    "participates",
    "particular",
    "particulars",
    "participles",
    "peeking",
    "peering",
    "peeping",
    "poked",
    "poking",
    "poignancy",
    "reached",
    "reaching",
    "recreation",
    "redress",
    "reflex",
    "relations",
    "rejections",
    "retractions",
    "refractions",
    "rigor",
    "shades",
    "shading",
    "shady",
    "shapes",
    "shaves",
    "shaving",
    "sharpness",
    "shell",
    "shelled",
    "shelling",
    "shells",
    "showering",
    "soaking",
    "snout",
    "sorted",
    "sorting",
    "space",
    "spaces",
    "spell",
    "spelled",
    "spells",
    "spellings",
    "sport",
    "sporting",
    "sported",
    "strike",
    "strikes",
    "strode",
    "strove",
    "strobe",
    "stretching",
    "thirty",
    "thrust",
    "thrash",
    "tutor",
    "tudor",
    "trevor",
    "unbeatable",
    "unbreakable",
    "welds",
    "wilts",
    "wheels",
    "wheeling",
    "woody",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lexicon() -> Lexicon {
        Lexicon::new(vec![
            Product {
                brand: "Cardiozen".into(),
                generics: vec!["velorapine".into()],
            },
            Product {
                brand: "Glucaria".into(),
                generics: vec!["metformin-xr".into(), "metformin".into()],
            },
        ])
    }

    #[test]
    fn a_product_is_found_whatever_its_case_and_only_as_a_whole_word() {
        // Configured in any case, written in any case.
        for configured in ["Cardiozan", "cardiozan", "CARDIOZAN"] {
            let lexicon = Lexicon::new(vec![Product {
                brand: configured.into(),
                generics: vec!["Velorapine".into()],
            }]);
            for written in ["Cardiozan", "cardiozan", "CARDIOZAN", "CardioZan"] {
                let screening = lexicon.screen(
                    &format!(
                        "My patient developed a severe rash two weeks after starting {written}."
                    ),
                    true,
                );
                assert_eq!(screening.products, [configured], "{configured} / {written}");
                assert!(screening.criteria.product, "{configured} / {written}");
            }
            let generic = lexicon.screen("Severe rash on VELORAPINE", true);
            assert_eq!(generic.products, [configured]);
        }
        // Not inside another word.
        let lexicon = Lexicon::new(vec![Product {
            brand: "Cardiozan".into(),
            generics: Vec::new(),
        }]);
        for text in [
            "Severe rash after starting noncardiozanthropic therapy",
            "Severe rash after starting precardiozanxyz",
        ] {
            let screening = lexicon.screen(text, true);
            assert!(
                screening.products.is_empty(),
                "{text}: {:?}",
                screening.products
            );
            assert!(!screening.criteria.product, "{text}");
        }
    }

    #[test]
    fn a_patient_report_meets_all_four_criteria() {
        let screening =
            lexicon().screen("Patient on Cardiozen reported a bad rash, no nausea", true);
        assert_eq!(screening.products, vec!["Cardiozen"]);
        assert_eq!(screening.events, vec!["rash"]);
        assert!(screening.situations.is_empty());
        assert_eq!(
            screening.criteria,
            Criteria {
                patient: true,
                reporter: true,
                product: true,
                event: true
            }
        );
        assert!(screening.is_hit());
    }

    #[test]
    fn negated_side_effects_are_not_a_hit() {
        let screening = lexicon().screen("no side effects at all", true);
        assert!(!screening.is_hit());
        assert!(screening.events.is_empty());
        assert!(!screening.criteria.event);
    }

    #[test]
    fn a_generic_name_maps_to_its_brand() {
        let screening = lexicon().screen("Started velorapine and metformin-xr last week", false);
        assert_eq!(screening.products, vec!["Cardiozen", "Glucaria"]);
        assert!(!screening.is_hit());
    }

    #[test]
    fn pregnancy_is_a_special_situation() {
        let screening = lexicon().screen("she is pregnant", false);
        assert_eq!(screening.situations, vec![SpecialSituation::Pregnancy]);
        assert!(screening.events.is_empty());
        assert!(screening.criteria.patient);
        assert!(screening.is_hit());
    }

    #[test]
    fn empty_text_finds_nothing() {
        assert_eq!(lexicon().screen("", false), Screening::default());
        assert_eq!(lexicon().screen("  ,.;  \n", false), Screening::default());
    }

    #[test]
    fn a_megabyte_of_text_screens() {
        let note = "Pt c/o nausia after Cardiozen, no rash; 🙂 café — ";
        let text = note.repeat(1_000_000 / note.len() + 1);
        let screening = lexicon().screen(&text, false);
        assert_eq!(screening.events, vec!["nausea"]);
        let one_word = "a".repeat(1_000_000);
        assert_eq!(lexicon().screen(&one_word, false), Screening::default());
    }

    #[test]
    fn a_later_clause_escapes_the_negation() {
        let screening = lexicon().screen("no rash but severe headache", false);
        assert_eq!(screening.events, vec!["headache"]);
    }

    #[test]
    fn a_negated_list_stays_negated() {
        let lexicon = lexicon();
        assert!(
            !lexicon
                .screen("Denies nausea, vomiting or diarrhoea.", false)
                .is_hit()
        );
        assert!(!lexicon.screen("Side effects: none", false).is_hit());
        assert!(!lexicon.screen("Anaphylaxis was ruled out", false).is_hit());
        // Without "or" the comma ends the clause and the second finding stands.
        assert_eq!(
            lexicon
                .screen("No rash, headache since Monday", false)
                .events,
            vec!["headache"]
        );
    }

    #[test]
    fn lack_of_efficacy_is_not_a_negation() {
        let lexicon = lexicon();
        let screening = lexicon.screen("Glucaria is not working, no side effects", false);
        assert_eq!(screening.situations, vec![SpecialSituation::LackOfEfficacy]);
        assert!(screening.events.is_empty());
        let screening = lexicon.screen("It didn't work for her", false);
        assert_eq!(screening.situations, vec![SpecialSituation::LackOfEfficacy]);
        assert!(
            !lexicon
                .screen("Dr Shah doesn't work on Fridays", false)
                .is_hit()
        );
    }

    #[test]
    fn pseudo_negations_do_not_negate() {
        let lexicon = lexicon();
        assert_eq!(
            lexicon
                .screen("She no longer takes it because of the itching", false)
                .events,
            vec!["pruritus"]
        );
        assert_eq!(
            lexicon
                .screen("Not sure whether the swelling is related", false)
                .events,
            vec!["oedema"]
        );
    }

    #[test]
    fn misspellings_are_corrected() {
        let lexicon = lexicon();
        let cases = [
            ("nausia", "nausea"),
            ("diarhea", "diarrhoea"),
            ("headach", "headache"),
            ("dizzyness", "dizziness"),
            ("rashes", "rash"),
            ("vomitting", "vomiting"),
            ("hospitalized", "hospitalisation"),
            ("hospitalised", "hospitalisation"),
            ("anaphylaxsis", "anaphylaxis"),
        ];
        for (written, canonical) in cases {
            assert_eq!(
                lexicon.screen(written, false).events,
                vec![canonical],
                "{written}"
            );
        }
        assert_eq!(
            lexicon.screen("pregnent", false).situations,
            vec![SpecialSituation::Pregnancy]
        );
        let overdosed = lexicon.screen("overdosed", false);
        assert_eq!(overdosed.situations, vec![SpecialSituation::Overdose]);
        assert_eq!(overdosed.events, vec!["overdose"]);
    }

    #[test]
    fn real_words_near_a_term_are_not_corrected() {
        let lexicon = lexicon();
        for text in [
            "She tried the portal",
            "Please send fewer emails",
            "The slides blend two studies",
            "left a comment",
            "rational prescribing",
            "low-fat diet",
        ] {
            assert!(!lexicon.screen(text, false).is_hit(), "{text}");
        }
        assert_eq!(
            lexicon.screen("made her vomit", false).events,
            vec!["vomiting"]
        );
        assert_eq!(lexicon.screen("fatigue", false).events, vec!["fatigue"]);
    }

    #[test]
    fn patients_are_recognised_by_age_and_initials() {
        let lexicon = lexicon();
        for text in [
            "a 54-year-old had a rash",
            "62 yo with rash",
            "62yo rash",
            "aged 40",
            "J.D. had a rash",
        ] {
            assert!(lexicon.screen(text, false).criteria.patient, "{text}");
        }
        for text in ["on it for 10 years", "took 10 mg", "the practice team"] {
            assert!(!lexicon.screen(text, false).criteria.patient, "{text}");
        }
    }

    #[test]
    fn extra_terms_are_found_and_reported_as_given() {
        let lexicon =
            lexicon().with_extra_terms(["serotonin syndrome".to_string(), " ".to_string()]);
        let screening = lexicon.screen("Developed Serotonin-Syndrom after Glucaria", false);
        assert_eq!(screening.events, vec!["serotonin syndrome"]);
        assert!(!lexicon.screen("no serotonin syndrome", false).is_hit());
    }

    #[test]
    fn situations_are_ordered_and_deduplicated() {
        let screening = lexicon().screen(
            "The pen was leaking, and she is pregnant; pregnancy confirmed, pen faulty",
            false,
        );
        assert_eq!(
            screening.situations,
            vec![
                SpecialSituation::Pregnancy,
                SpecialSituation::ProductComplaint
            ]
        );
        assert_eq!(
            SpecialSituation::ProductComplaint.as_str(),
            "product_complaint"
        );
        assert_eq!(
            serde_json::to_string(&SpecialSituation::OffLabel).unwrap(),
            "\"off_label\""
        );
    }

    #[test]
    fn edit_distance_is_bounded_damerau_levenshtein() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let d = |a: &str, b: &str, bound| edit_distance_within(&chars(a), &chars(b), bound);
        assert_eq!(d("nausea", "nausea", 1), Some(0));
        assert_eq!(d("nasuea", "nausea", 1), Some(1));
        assert_eq!(d("nausia", "nausea", 1), Some(1));
        assert_eq!(d("headach", "headache", 1), Some(1));
        assert_eq!(d("vommiting", "vomiting", 1), Some(1));
        assert_eq!(d("nusia", "nausea", 1), None);
        assert_eq!(d("nusia", "nausea", 2), Some(2));
        assert_eq!(d("rash", "rashes", 1), None);
    }

    proptest! {
        #[test]
        fn screening_never_panics_and_agrees_with_itself(text in any::<String>(), reporter in any::<bool>()) {
            let screening = LEXICON.with(|lexicon| lexicon.screen(&text, reporter));
            prop_assert_eq!(screening.criteria.event, screening.is_hit());
            prop_assert_eq!(screening.criteria.reporter, reporter);
            prop_assert_eq!(screening.criteria.product, !screening.products.is_empty());
        }

        #[test]
        fn screening_never_panics_on_wordy_text(text in "([a-zA-Z'’.,;:!?()\\- ]{0,12}|nausea|no|not|but|rash|none|Cardiozen|J\\.|62|yo|[\\PC]){0,60}") {
            let screening = LEXICON.with(|lexicon| lexicon.screen(&text, false));
            prop_assert_eq!(screening.criteria.event, screening.is_hit());
        }
    }

    thread_local! {
        static LEXICON: Lexicon = lexicon();
    }
}
