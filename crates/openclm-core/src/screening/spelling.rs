//! Which lexicon words a text word may stand for: itself, its uninflected form, or the words
//! it is a likely misspelling of.

use super::Lexicon;
use super::vocabulary::vocabulary;

/// Words shorter than this are never corrected, nor reached by a correction.
pub(super) const MIN_FUZZY_CHARS: usize = 5;
/// Words of at least this many letters may be two edits away rather than one.
const LONG_WORD_CHARS: usize = 9;
/// Words longer than this are never corrected.
pub(super) const MAX_FUZZY_CHARS: usize = 24;
/// Lexicon words one text word may stand for at most.
const MAX_CANDIDATES: usize = 4;

/// Words a text word may stand for; most words stand for none or one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Candidates {
    ids: [u32; MAX_CANDIDATES],
    len: u8,
    /// The word is written as in the lexicon, not inflected or misspelled.
    pub(super) exact: bool,
}

impl Candidates {
    pub(super) fn ids(&self) -> &[u32] {
        &self.ids[..usize::from(self.len)]
    }

    pub(super) fn contains(&self, id: u32) -> bool {
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

impl Lexicon {
    /// The lexicon words `word` may stand for: itself, its uninflected form, or the words it is a
    /// likely misspelling of.
    pub(super) fn candidates(&self, word: &str, scratch: &mut String) -> Candidates {
        let mut found = Candidates::default();
        if let Some(&id) = self.word_ids.get(word) {
            found.push(id);
            found.exact = true;
            return found;
        }
        if word.len() < 4 || !word.chars().all(char::is_alphabetic) || self.common.contains(word) {
            return found;
        }
        for (suffix, replacement) in &vocabulary().inflections {
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
}

/// Vowels are confused with each other at the start of a word (`affect`/`effect`,
/// `oedema`/`edema`); other first letters are kept.
pub(super) fn letter_group(first: char) -> char {
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
pub(super) struct Letters {
    set: u32,
    counts: [u8; 32],
}

impl Letters {
    pub(super) fn of(chars: &[char]) -> Self {
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
pub(super) fn edit_distance_within(a: &[char], b: &[char], bound: usize) -> Option<usize> {
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
