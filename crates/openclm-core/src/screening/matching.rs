//! Matching phrases against a text: left to right, longest first, product names anywhere.

use super::Lexicon;
use super::lexicon::{Elem, Kind, Pattern};
use super::spelling::Candidates;
use super::tokens::{Token, TokenKind};

/// A text as matching reads it: its tokens and, for each, the lexicon words it may stand for.
pub(super) struct Text<'a> {
    pub(super) tokens: &'a [Token],
    pub(super) candidates: &'a [Candidates],
}

/// A phrase found at tokens `start..end`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Match {
    pub(super) kind: Kind,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Lexicon {
    /// The brands named in `text`, by brand or generic name, in lexicon order.
    pub(super) fn products_named(&self, text: &Text) -> Vec<String> {
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
    pub(super) fn matches(&self, text: &Text) -> Vec<Match> {
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
}
