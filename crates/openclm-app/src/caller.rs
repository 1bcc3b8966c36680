//! Who is acting and what they may do, checked against the policy of `openclm_core::auth`. Every
//! way in establishes a [`Caller`] its own way (a session, an API key, the operator at the
//! command line) and hands it to the use cases, which check it before they read or write.

use openclm_core::auth::{Action, Role, Scope, User};
use openclm_core::{Hcp, HcpId};
use openclm_store::prelude::*;

use crate::AppError;

/// Who the caller is.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person signed in.
    User(User),
    /// An integration's API key.
    Key { key_id: String },
}

/// The authenticated caller of a use case.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub role: Role,
    /// The hash of the session token, when the caller is signed in (for logout).
    pub session_hash: Option<String>,
}

impl Caller {
    /// The caller as the audit trail names them: `user:<id>` or `key:<id>`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User(u) => format!("user:{}", u.user_id),
            Principal::Key { key_id } => format!("key:{key_id}"),
        }
    }

    /// The signed-in person, if the caller is one.
    pub fn user(&self) -> Option<&User> {
        match &self.principal {
            Principal::User(u) => Some(u),
            Principal::Key { .. } => None,
        }
    }

    fn territories(&self) -> &[String] {
        self.user().map_or(&[], |u| u.territories.as_slice())
    }

    /// The scope within which the caller may do `action`, or why not.
    pub fn require(&self, action: Action) -> Result<Scope, AppError> {
        match self.role.scope(action) {
            Scope::Denied => {
                tracing::warn!(caller = %self.actor(), role = %self.role, ?action, "request denied");
                Err(AppError::Forbidden(format!(
                    "the role {} may not do this",
                    self.role
                )))
            }
            scope => match (action.personal(), &self.principal) {
                (Some(what), Principal::Key { .. }) => {
                    tracing::warn!(caller = %self.actor(), ?action, "denied: a person's act asked by an API key");
                    Err(AppError::Forbidden(format!(
                        "{what} requires a signed-in person; API keys may not do it"
                    )))
                }
                _ => Ok(scope),
            },
        }
    }

    /// Whether the caller may do `action` at all.
    pub fn may(&self, action: Action) -> bool {
        self.role.allows(action)
            && (action.personal().is_none() || matches!(self.principal, Principal::User(_)))
    }

    /// Whether `scope` reaches a record in `territory`.
    pub fn reaches(&self, scope: Scope, territory: Option<&str>) -> bool {
        match scope {
            Scope::All => true,
            Scope::Denied => false,
            Scope::OwnTerritories => {
                territory.is_some_and(|t| self.territories().iter().any(|own| own == t))
            }
        }
    }

    /// The caller may do `action` on this HCP; an HCP outside their territories is "not found"
    /// (a rep learns nothing of HCPs they do not cover).
    pub fn require_hcp(&self, action: Action, hcp: &Hcp) -> Result<(), AppError> {
        let scope = self.require(action)?;
        if self.reaches(scope, hcp.territory.as_deref()) {
            Ok(())
        } else {
            tracing::warn!(caller = %self.actor(), ?action, "denied: HCP outside the caller's territories");
            Err(hcp_not_found())
        }
    }

    /// The territories a list must be limited to under `scope` (`None`: all).
    pub fn territory_limit(&self, scope: Scope) -> Option<Vec<String>> {
        (scope == Scope::OwnTerritories).then(|| self.territories().to_vec())
    }

    /// The signed-in person, or why an API key may not do this.
    pub fn require_person(&self) -> Result<&User, AppError> {
        self.user().ok_or_else(|| {
            AppError::Forbidden("this needs a person signed in, not an API key".into())
        })
    }
}

/// What a caller is told of an HCP they may not see, or that does not exist: the same answer.
pub fn hcp_not_found() -> AppError {
    AppError::NotFound("HCP".into())
}

/// The HCP `id` names, if the caller may do `action` on it; otherwise not found.
pub async fn visible_hcp<S: Store>(
    store: &S,
    caller: &Caller,
    action: Action,
    id: &str,
) -> Result<Hcp, AppError> {
    caller.require(action)?;
    let hcp = store
        .get_hcp(HcpId::parse("id", id)?)
        .await?
        .ok_or_else(hcp_not_found)?;
    caller.require_hcp(action, &hcp)?;
    Ok(hcp)
}
