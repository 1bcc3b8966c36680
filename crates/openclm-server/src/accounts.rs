//! Sign-in and sessions, the caller's own rights, people's accounts and integrations' API keys.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use openclm_app::accounts::{self, KeyInput, LoginInput, Me};
use openclm_core::auth::UserInput;
use openclm_store::Store;

use crate::auth::{Caller, expired_session_cookie, session_cookie};
use crate::extract::body_json;
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/login", post(login::<S>))
        .route("/v1/logout", post(logout::<S>))
        .route("/v1/me", get(me))
        .route("/v1/users", get(list_users::<S>).post(create_user::<S>))
        .route("/v1/users/{id}/disable", post(disable_user::<S>))
        .route("/v1/keys", get(list_keys::<S>).post(create_key::<S>))
        .route("/v1/keys/{id}", delete(revoke_key::<S>))
}

async fn login<S: Store>(
    State(state): State<AppState<S>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: LoginInput = body_json(&body)?;
    let signed_in = accounts::login(
        &state.store,
        input,
        state.config.session_idle_ms,
        (state.clock)(),
    )
    .await?;
    Ok((
        [(header::SET_COOKIE, session_cookie(&signed_in.token))],
        Json(signed_in),
    )
        .into_response())
}

async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    accounts::logout(&state.store, &caller, (state.clock)()).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, expired_session_cookie())],
    )
        .into_response())
}

async fn me(caller: Caller) -> Json<Me> {
    Json(accounts::me(&caller))
}

async fn list_users<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    Ok(Json(accounts::list_users(&state.store, &caller).await?).into_response())
}

async fn create_user<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Who may is checked before the body is read.
    accounts::require_admin(&caller)?;
    let input: UserInput = body_json(&body)?;
    let user = accounts::create_user(&state.store, &caller, input, (state.clock)()).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn disable_user<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    accounts::disable_user(&state.store, &caller, id, (state.clock)()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_keys<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    Ok(Json(accounts::list_keys(&state.store, &caller).await?).into_response())
}

async fn create_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Who may is checked before the body is read.
    accounts::require_admin(&caller)?;
    let input: KeyInput = body_json(&body)?;
    let key = accounts::create_key(&state.store, &caller, input, (state.clock)()).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

async fn revoke_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    accounts::revoke_key(&state.store, &caller, id, (state.clock)()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
