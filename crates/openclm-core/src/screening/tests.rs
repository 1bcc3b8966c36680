//! Unit tests of screening: what a text reads as, word by word and clause by clause.

use super::spelling::edit_distance_within;
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
                &format!("My patient developed a severe rash two weeks after starting {written}."),
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
    let screening = lexicon().screen("Patient on Cardiozen reported a bad rash, no nausea", true);
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
    let lexicon = lexicon().with_extra_terms(["serotonin syndrome".to_string(), " ".to_string()]);
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
