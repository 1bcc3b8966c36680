//! How the lexicon is built: words interned and indexed, phrases compiled into patterns.

use super::spelling::{Letters, MAX_FUZZY_CHARS, MIN_FUZZY_CHARS, letter_group};
use super::tokens::{TokenKind, tokenize};
use super::vocabulary::expand_alternatives;
use super::{Lexicon, SpecialSituation};

/// Words a bare `~` lets pass.
const DEFAULT_GAP: u8 = 3;

/// A word of the lexicon and what it is used for.
#[derive(Debug, Clone)]
pub(super) struct WordEntry {
    pub(super) chars: Box<[char]>,
    pub(super) correctable: bool,
    pub(super) patient: bool,
    pub(super) filler: bool,
    pub(super) list: bool,
}

/// The word lists that mark words rather than add phrases.
#[derive(Debug, Clone, Copy)]
pub(super) enum WordFlag {
    Patient,
    Filler,
    List,
}

/// One element of a compiled phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elem {
    Word(u32),
    /// Up to this many words of the same clause.
    Gap(u8),
    AnyProduct,
}

/// What a matched phrase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Cue {
    pub(super) before: bool,
    pub(super) after: bool,
    /// "Side effects, none": a following cue that reaches back past one comma.
    pub(super) past_comma: bool,
}

impl Cue {
    pub(super) const BEFORE: Cue = Cue {
        before: true,
        after: false,
        past_comma: false,
    };
    pub(super) const AFTER: Cue = Cue {
        before: false,
        after: true,
        past_comma: false,
    };
    pub(super) const EITHER_SIDE: Cue = Cue {
        before: true,
        after: true,
        past_comma: false,
    };
    pub(super) const AFTER_PAST_COMMA: Cue = Cue {
        before: true,
        after: true,
        past_comma: true,
    };
}

/// A phrase compiled to lexicon words, gaps and product slots, one per surface form.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) elems: Box<[Elem]>,
    pub(super) kind: Kind,
}

impl Lexicon {
    /// The id of a canonical event term, added on first use.
    pub(super) fn event_id(&mut self, canonical: &str) -> u32 {
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
    pub(super) fn intern(&mut self, word: &str, correctable: bool) -> u32 {
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
    pub(super) fn add_spec(&mut self, spec: &str, kind: Kind) {
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
    pub(super) fn add_words(&mut self, phrase: &str, kind: Kind) {
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
}
