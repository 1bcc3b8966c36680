//! Pagination as a client asks for it (`cursor`, `limit`), checked once for every list.

use openclm_core::FieldError;
use openclm_store::PageRequest;
use serde::Deserialize;

use crate::AppError;

/// The page length when none is asked for.
pub const DEFAULT_PAGE: usize = 100;
/// The longest page a client may ask for.
pub const MAX_PAGE: usize = 1000;

/// The pagination parameters of a list, as given (query strings carry text).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl PageQuery {
    /// The first page of at most `limit` items.
    pub fn first(limit: usize) -> Self {
        Self {
            cursor: None,
            limit: Some(limit.to_string()),
        }
    }

    /// The page at `cursor` (the first when `None`) of at most `limit` items.
    pub fn at(cursor: Option<String>, limit: usize) -> Self {
        Self {
            cursor,
            limit: Some(limit.to_string()),
        }
    }

    /// The page asked for, or which parameter is wrong.
    pub fn parse(self) -> Result<PageRequest, AppError> {
        let limit = match self.limit.as_deref() {
            None => DEFAULT_PAGE,
            Some(text) => match text.parse::<usize>() {
                Ok(n @ 1..=MAX_PAGE) => n,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    )
                    .into());
                }
            },
        };
        Ok(PageRequest {
            cursor: self.cursor.filter(|c| !c.is_empty()),
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(cursor: Option<&str>, limit: Option<&str>) -> Result<PageRequest, AppError> {
        PageQuery {
            cursor: cursor.map(str::to_owned),
            limit: limit.map(str::to_owned),
        }
        .parse()
    }

    #[test]
    fn a_page_is_the_default_length_unless_asked_and_an_empty_cursor_is_none() {
        let page = parsed(Some(""), None).unwrap();
        assert_eq!((page.cursor, page.limit), (None, DEFAULT_PAGE));
        let page = parsed(Some("c1"), Some("1000")).unwrap();
        assert_eq!((page.cursor.as_deref(), page.limit), (Some("c1"), 1000));
        assert_eq!(PageQuery::first(50).parse().unwrap().limit, 50);
    }

    #[test]
    fn a_limit_outside_one_to_the_maximum_names_the_field() {
        for limit in ["0", "1001", "-1", "ten", ""] {
            match parsed(None, Some(limit)) {
                Err(AppError::Invalid(f)) => assert_eq!(f.field, "limit", "{limit:?}"),
                other => panic!("{limit:?} gave {other:?}"),
            }
        }
    }
}
