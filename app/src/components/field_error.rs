use leptos::prelude::*;

use crate::model::FieldErrors;

/// The problem with one form field, shown beneath it; the input points at it
/// with `aria-describedby="{field}-error"`.
pub fn field_error(errors: &FieldErrors, field: &str) -> impl IntoView {
    errors.of(field).map(|message| {
        view! {
            <p class="field-error" id=format!("{field}-error") data-testid=format!("error-{field}")>
                {message}
            </p>
        }
    })
}
