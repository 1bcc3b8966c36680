//! Whether a text names a patient: a person word, an age or a patient's initials.

use super::Lexicon;
use super::spelling::Candidates;
use super::tokens::{TokenKind, Tokenized};

impl Lexicon {
    /// Whether the text names a person who may be the patient.
    pub(super) fn mentions_patient(
        &self,
        tokenized: &Tokenized,
        candidates: &[Candidates],
    ) -> bool {
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
