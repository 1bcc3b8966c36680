//! Which findings a negation governs: cues before or after them in the same clause, and
//! negated lists.

use super::lexicon::{Cue, Kind};
use super::matching::{Match, Text};
use super::tokens::TokenKind;
use super::{Lexicon, SpecialSituation};

/// Content words a negation cue may stand before what it negates ("no reports of any rash").
const NEGATION_WINDOW: usize = 4;
/// Content words a trailing cue may stand after what it negates ("rash was ruled out").
const AFTER_NEGATION_WINDOW: usize = 3;
/// Words of any kind between a cue and what it negates.
const MAX_CUE_REACH: usize = 8;

/// What joins two findings of one list: a comma, and whether an `or`/`nor`.
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

impl Lexicon {
    /// The findings that no negation governs: canonical events in order of first mention, and
    /// special situations in the enum's order.
    pub(super) fn findings(
        &self,
        text: &Text,
        matches: &[Match],
    ) -> (Vec<String>, Vec<SpecialSituation>) {
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
}
