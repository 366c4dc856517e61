//! Free-text fields from clients: trimmed, bounded, free of control characters;
//! and calendar days written as text (`2026-11-23`).

use crate::kernel::error::ApiError;

/// Trims `value` and checks it holds 1 to `max_chars` characters, none of
/// them control characters.
pub fn required(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A calendar day written `YYYY-MM-DD` (in a path or a query).
pub fn day(field: &str, text: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid_field(field, "must be a date such as 2026-11-23"))
}

#[cfg(test)]
mod tests {
    use super::required;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required("name", "  安家  ", 10).unwrap(), "安家");
        assert!(required("name", "   ", 10).is_err());
        assert!(required("name", "一二三四五六七八九十一", 10).is_err());
        assert!(required("name", "a\u{0}b", 10).is_err());
    }
}
