//! The words in the history: rep call notes, comments, medical-information questions, survey
//! answers and email clients. None of it names a patient.

use crate::catalog::Topic;

/// What a rep writes after a call, by the topic the HCP engaged with most.
pub(crate) fn call_notes(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Efficacy => &[
            "Discussed primary endpoint results; asked for outcomes data in older patients",
            "Positive about the efficacy data; wants the subgroup analyses",
            "Sceptical about the effect size versus current standard of care",
        ],
        Topic::Safety => &[
            "Raised questions on the safety profile; reviewed key safety information",
            "Concerned about monitoring requirements; walked through the safety data",
        ],
        Topic::Dosing => &[
            "Discussed dosing titration; asked for outcomes data",
            "Walked through the titration schedule; prefers a simpler regimen",
            "Asked for a printed dosing card for the practice team",
        ],
        Topic::Access => &[
            "Reimbursement is the main barrier; asked about the access programme",
            "Price objection: budget pressure at the practice",
        ],
        Topic::MechanismOfAction => &[
            "Interested in the mechanism of action; requested the MoA animation",
            "Long discussion on mode of action versus competitor class",
        ],
        Topic::PatientSupport => &[
            "Asked how to enrol patients in the support programme",
            "Nurse team interested in patient education materials",
        ],
        Topic::Guidelines => &[
            "Discussed the latest guideline update and place in therapy",
            "Follows guidelines strictly; waiting for the next update before switching",
        ],
    }
}

/// A structured objection a rep sometimes adds to the note.
pub(crate) const OBJECTIONS: &[&str] = &[
    "Objection: efficacy",
    "Objection: safety",
    "Objection: price",
    "Objection: access",
    "Objection: competitor already in use",
];

/// Notes that report a possible adverse event: rare, and what pharmacovigilance must catch.
pub(crate) const ADVERSE_EVENT_NOTES: &[&str] = &[
    "HCP mentioned a patient hospitalised with severe dizziness after starting therapy; PV form offered",
    "Reported a patient with a skin rash two weeks after the dose increase; referred to drug safety",
];

pub(crate) fn medical_questions(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Efficacy => &[
            "Is there data on {brand} in patients over 80?",
            "Please send the full publication of the pivotal {brand} trial",
        ],
        Topic::Safety => &[
            "Is {brand} safe in severe renal impairment (eGFR below 30)?",
            "Are there known interactions between {brand} and CYP3A4 inhibitors?",
        ],
        Topic::Dosing => &[
            "How should {brand} be dosed after a missed dose?",
            "What is the recommended approach when switching to {brand} from another therapy?",
        ],
        Topic::Access => &["Which patients qualify for {brand} reimbursement in my region?"],
        Topic::MechanismOfAction => {
            &["Is there preclinical data on how {brand} affects remodelling?"]
        }
        Topic::PatientSupport => &["How can my patients join the {brand} support programme?"],
        Topic::Guidelines => &["Where does {brand} sit in the current guideline algorithm?"],
    }
}

pub(crate) const ADVERSE_EVENT_QUESTIONS: &[&str] = &[
    "A patient on {brand} developed swelling of the lips and face; is this a known reaction?",
    "Patient reported persistent nausea and vomiting since starting {brand}; please advise",
];

pub(crate) const COMMENTS: &[&str] = &[
    "Very useful overview, thank you",
    "The slides were too long for a short visit",
    "Please send materials in my language",
    "Would like more real-world evidence",
    "Good webinar, the case discussion was the best part",
    "Too promotional for my taste",
    "Could you add a printable patient leaflet?",
];

pub(crate) const ADVERSE_EVENT_COMMENTS: &[&str] =
    &["One of my patients reported ankle swelling after the dose increase"];

/// Why an HCP gave their recommendation score, by score band.
pub(crate) fn nps_reasons(score: u32) -> &'static [&'static str] {
    match score {
        9..=10 => &[
            "Clear, practical dosing guidance",
            "Relevant clinical data for my patients",
        ],
        7..=8 => &["Useful but too long", "Good content, too frequent"],
        _ => &[
            "Too promotional",
            "Not relevant to my patients",
            "Too many emails",
        ],
    }
}

pub(crate) const HUMAN_USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
];

/// What Apple's proxy reports when it fetches a message's images on delivery.
pub(crate) const MACHINE_USER_AGENT: &str =
    "Mozilla/5.0 (Macintosh) AppleWebKit (KHTML, like Gecko) Apple Mail Privacy Protection";
