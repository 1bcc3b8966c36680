//! Field reps' weekly plans: the suggestions made for them and their feedback.

use openclm_core::suggest::{Feedback, Suggestion, Week};
use openclm_core::{FieldError, Timestamp};

use crate::{DecisionRecord, Result};

/// A rep's plan for a week, stored with the decisions behind its suggestions.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub rep_id: String,
    pub week: Week,
    pub decisions: Vec<DecisionRecord>,
    pub suggestions: Vec<Suggestion>,
    pub made_at: Timestamp,
}

impl NewPlan {
    /// The plan's suggestions whose content is all in `usable`, and their decisions.
    pub(crate) fn usable(&self, usable: &[String]) -> (Vec<DecisionRecord>, Vec<Suggestion>) {
        let suggestions: Vec<Suggestion> = self
            .suggestions
            .iter()
            .filter(|s| {
                std::iter::once(&s.content_id)
                    .chain(&s.key_messages)
                    .all(|c| usable.contains(c))
            })
            .cloned()
            .collect();
        let decisions = self
            .decisions
            .iter()
            .filter(|d| suggestions.iter().any(|s| s.decision_id == d.decision_id))
            .cloned()
            .collect();
        (decisions, suggestions)
    }
}

/// Which suggestions to list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct SuggestionFilter {
    pub week: Option<Week>,
    pub rep_id: Option<String>,
    /// One HCP's suggestions (by their OpenCLM id), most recently changed first, at most
    /// [`HCP_SUGGESTIONS`] of them.
    pub hcp_id: Option<String>,
}

/// The most suggestions an HCP filter returns.
pub const HCP_SUGGESTIONS: usize = 50;

crate::store::store_trait! {
    /// Field reps' weekly plans: the suggestions made for them and their feedback.
    pub trait RepPlans {
        /// Stores a rep's weekly plan and its decisions in one write, unless a plan for that rep
        /// and week is stored already (by another request or node): then nothing is written.
        /// Returns the stored plan either way.
        async fn save_plan(&self, plan: NewPlan) -> Result<Vec<Suggestion>>;
        /// A rep's plan for a week; `None` when none was made yet.
        async fn get_plan(&self, rep_id: String, week: Week) -> Result<Option<Vec<Suggestion>>>;
        async fn list_suggestions(&self, filter: SuggestionFilter) -> Result<Vec<Suggestion>>;
        async fn get_suggestion(&self, suggestion_id: String) -> Result<Option<Suggestion>>;
        /// Records a rep's feedback, in one write: a dismissal releases the decision's hold on the
        /// caps and, when its reason says the action was wrong for the HCP, counts as a failed
        /// trial of the decision's arm. The inner error is the client's (feedback that does not
        /// apply to the suggestion's status); `None` when there is no such suggestion.
        async fn suggestion_feedback(
            &self,
            suggestion_id: String,
            feedback: Feedback,
            now: Timestamp,
        ) -> Result<Option<std::result::Result<Suggestion, FieldError>>>;
        /// Cancels open suggestions, each with why, releasing their decisions' holds; returns how
        /// many were still open.
        async fn cancel_suggestions(
            &self,
            cancellations: Vec<(String, String)>,
            now: Timestamp,
        ) -> Result<usize>;
    }
}
