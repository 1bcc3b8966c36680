//! The built-in vocabulary: the tables of `data/screening/` (their format is in the README.md
//! there), compiled into the binary and parsed on first use.
//!
//! Parsing never panics: a malformed line is left out and reported, and the unit tests below
//! require every file to parse without a report and with the number of entries it is known to
//! hold, so a bad edit to a data file fails the tests rather than a screening.

use std::fmt;
use std::sync::LazyLock;

use super::SpecialSituation;

/// The built-in vocabulary, parsed the first time it is needed.
pub(super) fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| Vocabulary::parse().0);
    &VOCABULARY
}

/// Every table of the built-in vocabulary, in the order of its data file.
#[derive(Debug, Clone, Default)]
pub(super) struct Vocabulary {
    /// Inflections tried, in order, when a word is not in the lexicon as written: the suffix and
    /// what replaces it.
    pub(super) inflections: Vec<(&'static str, &'static str)>,
    /// Adverse-event phrases by canonical term.
    pub(super) event_terms: Vec<Group<&'static str>>,
    /// Events that are also special situations, by canonical term and situation.
    pub(super) events_in_situations: Vec<Group<(&'static str, SpecialSituation)>>,
    /// Special-situation phrases by situation.
    pub(super) situation_terms: Vec<Group<SpecialSituation>>,
    pub(super) negations_before: Vec<&'static str>,
    pub(super) negations_after: Vec<&'static str>,
    pub(super) negations_either_side: Vec<&'static str>,
    pub(super) negations_after_past_comma: Vec<&'static str>,
    pub(super) pseudo_cues: Vec<&'static str>,
    pub(super) clause_breaks: Vec<&'static str>,
    pub(super) patient_words: Vec<&'static str>,
    pub(super) filler_words: Vec<&'static str>,
    pub(super) list_words: Vec<&'static str>,
    pub(super) common_words: Vec<&'static str>,
}

/// The phrases under one `[header]` of a grouped table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group<K> {
    pub(super) key: K,
    pub(super) phrases: Vec<&'static str>,
}

/// One data file, compiled in.
#[derive(Debug, Clone, Copy)]
struct File {
    name: &'static str,
    text: &'static str,
}

macro_rules! data_file {
    ($name:literal) => {
        File {
            name: $name,
            text: include_str!(concat!("../../data/screening/", $name)),
        }
    };
}

const INFLECTIONS: File = data_file!("inflections.txt");
const EVENT_TERMS: File = data_file!("event_terms.txt");
const EVENTS_IN_SITUATIONS: File = data_file!("events_in_situations.txt");
const SITUATION_TERMS: File = data_file!("situation_terms.txt");
const NEGATIONS_BEFORE: File = data_file!("negations_before.txt");
const NEGATIONS_AFTER: File = data_file!("negations_after.txt");
const NEGATIONS_EITHER_SIDE: File = data_file!("negations_either_side.txt");
const NEGATIONS_AFTER_PAST_COMMA: File = data_file!("negations_after_past_comma.txt");
const PSEUDO_CUES: File = data_file!("pseudo_cues.txt");
const CLAUSE_BREAKS: File = data_file!("clause_breaks.txt");
const PATIENT_WORDS: File = data_file!("patient_words.txt");
const FILLER_WORDS: File = data_file!("filler_words.txt");
const LIST_WORDS: File = data_file!("list_words.txt");
const COMMON_WORDS: File = data_file!("common_words.txt");

/// A line of a data file that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DataError {
    file: &'static str,
    line: usize,
    message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl Vocabulary {
    /// Parses every data file: the vocabulary without the malformed lines, and what was wrong
    /// with each of them.
    fn parse() -> (Self, Vec<DataError>) {
        let mut errors = Vec::new();
        let e = &mut errors;
        let vocabulary = Vocabulary {
            inflections: inflections(INFLECTIONS, e),
            event_terms: groups(EVENT_TERMS, e, Ok),
            events_in_situations: groups(EVENTS_IN_SITUATIONS, e, |header| {
                let (term, situation) = header
                    .split_once(':')
                    .ok_or("expected `[term: situation]`")?;
                Ok((term.trim(), situation_named(situation.trim())?))
            }),
            situation_terms: groups(SITUATION_TERMS, e, situation_named),
            negations_before: phrases(NEGATIONS_BEFORE, e),
            negations_after: phrases(NEGATIONS_AFTER, e),
            negations_either_side: phrases(NEGATIONS_EITHER_SIDE, e),
            negations_after_past_comma: phrases(NEGATIONS_AFTER_PAST_COMMA, e),
            pseudo_cues: phrases(PSEUDO_CUES, e),
            clause_breaks: phrases(CLAUSE_BREAKS, e),
            patient_words: words(PATIENT_WORDS, e),
            filler_words: words(FILLER_WORDS, e),
            list_words: words(LIST_WORDS, e),
            common_words: words(COMMON_WORDS, e),
        };
        (vocabulary, errors)
    }
}

/// The lines that carry data, with their 1-based numbers: blank lines and `#` comments are
/// skipped, and surrounding whitespace is trimmed.
fn lines(file: File) -> impl Iterator<Item = (usize, &'static str)> {
    file.text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

fn error(file: File, line: usize, message: impl Into<String>) -> DataError {
    DataError {
        file: file.name,
        line,
        message: message.into(),
    }
}

/// A word as text is read: lower-case letters and digits only.
fn is_word(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() && !c.is_uppercase())
}

fn words(file: File, errors: &mut Vec<DataError>) -> Vec<&'static str> {
    let mut words = Vec::new();
    for (number, line) in lines(file) {
        if is_word(line) {
            words.push(line);
        } else {
            errors.push(error(
                file,
                number,
                format!("expected one lower-case word, found {line:?}"),
            ));
        }
    }
    words
}

fn inflections(file: File, errors: &mut Vec<DataError>) -> Vec<(&'static str, &'static str)> {
    let mut inflections = Vec::new();
    for (number, line) in lines(file) {
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next(), fields.next()) {
            (Some(suffix), replacement, None)
                if is_word(suffix) && replacement.is_none_or(is_word) =>
            {
                inflections.push((suffix, replacement.unwrap_or("")));
            }
            _ => errors.push(error(
                file,
                number,
                format!("expected a suffix and an optional replacement, found {line:?}"),
            )),
        }
    }
    inflections
}

fn phrases(file: File, errors: &mut Vec<DataError>) -> Vec<&'static str> {
    let mut phrases = Vec::new();
    for (number, line) in lines(file) {
        match check_phrase(line) {
            Ok(()) => phrases.push(line),
            Err(message) => errors.push(error(file, number, message)),
        }
    }
    phrases
}

/// Reads a grouped table: a `[header]` line, read by `key`, then the phrases of its group.
fn groups<K>(
    file: File,
    errors: &mut Vec<DataError>,
    key: impl Fn(&'static str) -> Result<K, String>,
) -> Vec<Group<K>> {
    let mut groups: Vec<Group<K>> = Vec::new();
    let mut header_lines = Vec::new();
    // Whether the lines below belong to the last group: not after a header that was left out.
    let mut open = false;
    for (number, line) in lines(file) {
        if let Some(header) = line.strip_prefix('[') {
            let parsed = match header.strip_suffix(']').map(str::trim) {
                Some("") | None => Err(format!("expected a `[header]` line, found {line:?}")),
                Some(header) => key(header),
            };
            open = parsed.is_ok();
            match parsed {
                Ok(key) => {
                    groups.push(Group {
                        key,
                        phrases: Vec::new(),
                    });
                    header_lines.push(number);
                }
                Err(message) => errors.push(error(file, number, message)),
            }
            continue;
        }
        let checked = match groups.last_mut() {
            Some(group) if open => check_phrase(line).map(|()| group.phrases.push(line)),
            _ => Err("a phrase before any valid `[header]` line".to_owned()),
        };
        if let Err(message) = checked {
            errors.push(error(file, number, message));
        }
    }
    for (group, number) in groups.iter().zip(header_lines) {
        if group.phrases.is_empty() {
            errors.push(error(file, number, "a group without phrases"));
        }
    }
    groups
}

fn situation_named(name: &str) -> Result<SpecialSituation, String> {
    use SpecialSituation::*;
    [
        Pregnancy,
        Overdose,
        Misuse,
        OffLabel,
        LackOfEfficacy,
        ProductComplaint,
    ]
    .into_iter()
    .find(|situation| situation.as_str() == name)
    .ok_or_else(|| format!("unknown special situation {name:?}"))
}

/// Checks the phrase syntax: `{a|b}` alternatives (balanced, not nested), `~` or `~N` gaps
/// between words (never first or last), and `<product>` only as a whole word.
fn check_phrase(phrase: &str) -> Result<(), String> {
    let mut open = false;
    for c in phrase.chars() {
        match c {
            '{' if !open => open = true,
            '}' if open => open = false,
            '{' | '}' => return Err(format!("unbalanced or nested braces in {phrase:?}")),
            _ => {}
        }
    }
    if open {
        return Err(format!("unbalanced braces in {phrase:?}"));
    }
    let mut surfaces = Vec::new();
    expand_alternatives(phrase, &mut surfaces);
    for surface in &surfaces {
        let pieces: Vec<&str> = surface.split_whitespace().collect();
        if pieces.is_empty() {
            return Err(format!("an alternative of {phrase:?} has no words"));
        }
        for (index, piece) in pieces.iter().enumerate() {
            if let Some(count) = piece.strip_prefix('~') {
                if !count.is_empty() && count.parse::<u8>().is_err() {
                    return Err(format!("a gap is `~` or `~N` (N up to 255) in {phrase:?}"));
                }
                if index == 0 || index + 1 == pieces.len() {
                    return Err(format!("a gap must stand between words in {phrase:?}"));
                }
            } else if *piece != "<product>" && piece.contains(['<', '>']) {
                return Err(format!("`<product>` must stand alone in {phrase:?}"));
            }
        }
    }
    Ok(())
}

/// Expands `{a|b}` alternatives (not nested) into every surface form.
pub(super) fn expand_alternatives(spec: &str, out: &mut Vec<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every data file parses without a report and holds the entries it is known to hold; a
    /// change to a data file changes these counts on purpose.
    #[test]
    fn every_data_file_parses_with_its_expected_entries() {
        let (v, errors) = Vocabulary::parse();
        let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{}", report.join("\n"));
        assert_eq!(v.inflections.len(), 8);
        assert_eq!((v.event_terms.len(), count(&v.event_terms)), (86, 562));
        assert_eq!(
            (v.events_in_situations.len(), count(&v.events_in_situations)),
            (4, 18)
        );
        assert_eq!(
            (v.situation_terms.len(), count(&v.situation_terms)),
            (6, 187)
        );
        assert_eq!(v.negations_before.len(), 18);
        assert_eq!(v.negations_after.len(), 3);
        assert_eq!(v.negations_either_side.len(), 4);
        assert_eq!(v.negations_after_past_comma.len(), 2);
        assert_eq!(v.pseudo_cues.len(), 50);
        assert_eq!(v.clause_breaks.len(), 18);
        assert_eq!(v.patient_words.len(), 51);
        assert_eq!(v.filler_words.len(), 56);
        assert_eq!(v.list_words.len(), 3);
        assert_eq!(v.common_words.len(), 288);
    }

    /// No data file lies in the directory unread.
    fn count<K>(groups: &[Group<K>]) -> usize {
        groups.iter().map(|group| group.phrases.len()).sum()
    }

    #[test]
    fn every_file_in_the_data_directory_is_read() {
        let read = [
            INFLECTIONS,
            EVENT_TERMS,
            EVENTS_IN_SITUATIONS,
            SITUATION_TERMS,
            NEGATIONS_BEFORE,
            NEGATIONS_AFTER,
            NEGATIONS_EITHER_SIDE,
            NEGATIONS_AFTER_PAST_COMMA,
            PSEUDO_CUES,
            CLAUSE_BREAKS,
            PATIENT_WORDS,
            FILLER_WORDS,
            LIST_WORDS,
            COMMON_WORDS,
        ]
        .map(|file| file.name);
        let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/data/screening");
        let mut present: Vec<String> = std::fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "README.md")
            .collect();
        present.sort();
        let mut read = read.to_vec();
        read.sort_unstable();
        assert_eq!(present, read);
    }

    #[test]
    fn malformed_lines_are_left_out_and_reported_with_their_line() {
        let file = |text| File {
            name: "test.txt",
            text,
        };
        let mut errors = Vec::new();
        let read = words(
            file("# words\nrash\n\nTwo words\nRash\nitch\n"),
            &mut errors,
        );
        assert_eq!(read, ["rash", "itch"]);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5]);
        assert_eq!(
            errors[0].to_string(),
            "test.txt:4: expected one lower-case word, found \"Two words\""
        );

        let mut errors = Vec::new();
        let read = phrases(
            file(
                "no {rash|itch}\n{a|{b}}\n~ rash\nrash ~2\nrash ~x itch\nx<product>\n<product> ~ rash\n{a|}\n{<product>|rash} ~ {itch|~}\n",
            ),
            &mut errors,
        );
        assert_eq!(read, ["no {rash|itch}", "<product> ~ rash"]);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 8, 9]);

        let mut errors = Vec::new();
        let read = groups(
            file("stray\n[pregnancy]\npregnant\n[pregnent]\nlost\n[]\n[overdose]\nod\n[misuse\n"),
            &mut errors,
            situation_named,
        );
        assert_eq!(
            read,
            [
                Group {
                    key: SpecialSituation::Pregnancy,
                    phrases: vec!["pregnant"]
                },
                Group {
                    key: SpecialSituation::Overdose,
                    phrases: vec!["od"]
                },
            ]
        );
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 4, 5, 6, 9]);

        let mut errors = Vec::new();
        let read = inflections(file("ies y\nes\ned e x\n"), &mut errors);
        assert_eq!(read, [("ies", "y"), ("es", "")]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
    }
}
