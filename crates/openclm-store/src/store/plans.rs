//! Field reps' weekly plans: the suggestions made for them and their feedback.

use crate::NewPlan;
use crate::Result;
use crate::SuggestionFilter;
use openclm_core::FieldError;
use openclm_core::Timestamp;
use openclm_core::suggest::Feedback;
use openclm_core::suggest::Suggestion;
use openclm_core::suggest::Week;

crate::store::store_trait! {
    /// Field reps' weekly plans: the suggestions made for them and their feedback.
    pub trait RepPlans {
        /// Stores a rep's weekly plan and its decisions in one write, unless a plan for that rep and
        /// week is stored already (by another request or node): then nothing is written. Returns the
        /// stored plan either way.
        async fn save_plan(&self, plan: NewPlan) -> Result<Vec<Suggestion>>;
        /// A rep's plan for a week; `None` when none was made yet.
        async fn get_plan(&self, rep_id: String, week: Week) -> Result<Option<Vec<Suggestion>>>;
        async fn list_suggestions(&self, filter: SuggestionFilter) -> Result<Vec<Suggestion>>;
        async fn get_suggestion(&self, suggestion_id: String) -> Result<Option<Suggestion>>;
        /// Records a rep's feedback, in one write: a dismissal releases the decision's hold on the
        /// caps and, when its reason says the action was wrong for the HCP, counts as a failed trial
        /// of the decision's arm. The inner error is the client's (feedback that does not apply to
        /// the suggestion's status); `None` when there is no such suggestion.
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
