//! Measures AE screening on a labelled set of realistic texts: recall (flagging every potential
//! AE) must stay at 0.95 or above, precision at 0.85 or above. Run with `--nocapture` to see the
//! table and every miss and false alarm.

use std::collections::BTreeMap;

use openclm_core::screening::{Lexicon, Product};

const PHRASES: &str = include_str!("data/ae_phrases.tsv");

const CATEGORIES: [&str; 10] = [
    "ae",
    "negation",
    "pregnancy",
    "overdose",
    "misuse",
    "off_label",
    "lack_of_efficacy",
    "product_complaint",
    "misspelling",
    "benign",
];

struct Row {
    line: usize,
    positive: bool,
    category: &'static str,
    text: &'static str,
}

fn rows() -> Vec<Row> {
    let mut lines = PHRASES.lines().enumerate();
    assert_eq!(
        lines.next().map(|(_, header)| header),
        Some("label\tcategory\ttext")
    );
    lines
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [label, category, text] = fields[..] else {
                panic!(
                    "line {}: expected 3 tab-separated fields: {line:?}",
                    index + 1
                );
            };
            assert!(
                CATEGORIES.contains(&category),
                "line {}: unknown category {category:?}",
                index + 1
            );
            let positive = match label {
                "1" => true,
                "0" => false,
                _ => panic!("line {}: label must be 0 or 1, not {label:?}", index + 1),
            };
            Row {
                line: index + 1,
                positive,
                category,
                text,
            }
        })
        .collect()
}

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

#[derive(Default, Clone, Copy)]
struct Tally {
    true_positives: usize,
    false_negatives: usize,
    false_positives: usize,
    true_negatives: usize,
}

impl Tally {
    fn add(&mut self, positive: bool, flagged: bool) {
        match (positive, flagged) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, true) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
        }
    }

    fn rows(&self) -> usize {
        self.true_positives + self.false_negatives + self.false_positives + self.true_negatives
    }

    /// `None` where the ratio has no denominator (no positives, or nothing flagged).
    fn recall(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    fn precision(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

#[test]
fn the_labelled_set_is_large_and_balanced() {
    let rows = rows();
    let count = |category: &str| rows.iter().filter(|r| r.category == category).count();
    assert!(rows.len() >= 320, "{} rows", rows.len());
    assert!(count("negation") >= 60);
    assert!(count("misspelling") >= 40);
    assert!(count("benign") >= 80);
    for situation in [
        "pregnancy",
        "overdose",
        "misuse",
        "off_label",
        "lack_of_efficacy",
        "product_complaint",
    ] {
        assert!(count(situation) >= 15, "{situation}: {}", count(situation));
    }
    let positives = rows.iter().filter(|r| r.positive).count() as f64 / rows.len() as f64;
    assert!(
        (0.55..=0.65).contains(&positives),
        "{positives:.3} positive"
    );
    let mut texts: Vec<&str> = rows.iter().map(|r| r.text).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), rows.len(), "duplicate texts");
}

#[test]
fn screening_recall_and_precision_on_the_labelled_set() {
    let lexicon = lexicon();
    let rows = rows();
    let mut overall = Tally::default();
    let mut by_category: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    for row in &rows {
        let screening = lexicon.screen(row.text, false);
        let flagged = screening.is_hit();
        overall.add(row.positive, flagged);
        by_category
            .entry(row.category)
            .or_default()
            .add(row.positive, flagged);
        if row.positive && !flagged {
            misses.push(row);
        } else if !row.positive && flagged {
            false_alarms.push((row, screening));
        }
    }

    println!(
        "{:<18} {:>5} {:>4} {:>4} {:>4} {:>4} {:>8} {:>9}",
        "category", "rows", "tp", "fn", "fp", "tn", "recall", "precision"
    );
    let line = |name: &str, t: &Tally| {
        println!(
            "{:<18} {:>5} {:>4} {:>4} {:>4} {:>4} {:>8} {:>9}",
            name,
            t.rows(),
            t.true_positives,
            t.false_negatives,
            t.false_positives,
            t.true_negatives,
            show(t.recall()),
            show(t.precision())
        );
    };
    for category in CATEGORIES {
        if let Some(tally) = by_category.get(category) {
            line(category, tally);
        }
    }
    line("overall", &overall);

    println!("\nmisses (potential AEs not flagged): {}", misses.len());
    for row in &misses {
        println!("  line {:>3} [{}] {}", row.line, row.category, row.text);
    }
    println!("\nfalse alarms (flagged, not AEs): {}", false_alarms.len());
    for (row, screening) in &false_alarms {
        let situations: Vec<&str> = screening.situations.iter().map(|s| s.as_str()).collect();
        println!(
            "  line {:>3} [{}] {}  -> events {:?} situations {:?}",
            row.line, row.category, row.text, screening.events, situations
        );
    }

    let recall = overall.recall().expect("the set has positives");
    let precision = overall.precision().expect("screening flagged something");
    assert!(recall >= 0.95, "overall recall {recall:.3} is below 0.95");
    assert!(
        precision >= 0.85,
        "overall precision {precision:.3} is below 0.85"
    );
}

/// How long one screen of a typical 200-character note takes. Run with
/// `cargo test -p openclm-core --release --test screening -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn screening_speed() {
    let lexicon = lexicon();
    let note = "Met Dr Okafor at the clinic, discussed the renal dosing card. A 62 yo patient on \
                Cardiozen had nausia and some dizziness last week, no rash. Wants samples and a \
                lunch meeting in March.";
    let rounds = 20_000;
    let started = std::time::Instant::now();
    let mut hits = 0;
    for _ in 0..rounds {
        hits += usize::from(
            std::hint::black_box(lexicon.screen(std::hint::black_box(note), true)).is_hit(),
        );
    }
    let per_screen = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    println!(
        "{per_screen:.2} µs per screen of a {}-character note ({hits} hits)",
        note.chars().count()
    );
    let started = std::time::Instant::now();
    let _lexicon = std::hint::black_box(self::lexicon());
    println!(
        "{:.2} ms to build the lexicon",
        started.elapsed().as_secs_f64() * 1e3
    );
}
