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

/// `aria-invalid` for a field with a problem.
pub fn invalid(errors: &FieldErrors, field: &str) -> Option<&'static str> {
    errors.of(field).is_some().then_some("true")
}

/// A labelled select named `name` of `(value, text)` options, `selected`
/// chosen, with its problem beneath it.
#[component]
pub fn SelectField(
    name: &'static str,
    label: &'static str,
    options: Vec<(String, String)>,
    selected: String,
    errors: FieldErrors,
) -> impl IntoView {
    let id = format!("field-{name}");
    let options = options
        .into_iter()
        .map(|(value, text)| {
            let chosen = value == selected;
            view! {
                <option value=value selected=chosen>
                    {text}
                </option>
            }
        })
        .collect_view();
    view! {
        <div>
            <label for=id.clone()>{label}</label>
            <select
                id=id
                name=name
                aria-invalid=invalid(&errors, name)
                aria-describedby=format!("{name}-error")
            >
                {options}
            </select>
            {field_error(&errors, name)}
        </div>
    }
}

/// A labelled, required text input named `name` with its problem beneath
/// it and an optional help line.
#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    value: String,
    errors: FieldErrors,
    #[prop(optional_no_strip)] max_length: Option<usize>,
    #[prop(optional_no_strip)] placeholder: Option<&'static str>,
    #[prop(optional)] help: Option<&'static str>,
    #[prop(optional)] wide: bool,
    /// `text` unless given (`email`, `password`...).
    #[prop(optional)]
    input_type: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let described_by = match help {
        Some(_) => format!("{name}-error {name}-help"),
        None => format!("{name}-error"),
    };
    let help = help.map(|text| {
        view! {
            <p id=format!("{name}-help") class="muted small">
                {text}
            </p>
        }
    });
    view! {
        <div class:span-2=wide>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=input_type.unwrap_or("text")
                autocomplete=autocomplete
                required
                maxlength=max_length
                placeholder=placeholder
                value=value
                aria-invalid=invalid(&errors, name)
                aria-describedby=described_by
            />
            {field_error(&errors, name)}
            {help}
        </div>
    }
}

/// The field where someone types the password they have, named `name`.
#[component]
pub fn CurrentPasswordField(
    name: &'static str,
    label: &'static str,
    errors: FieldErrors,
) -> impl IntoView {
    view! {
        <TextField
            name=name
            label=label
            value=String::new()
            errors=errors
            max_length=None
            placeholder=None
            input_type="password"
            autocomplete="current-password"
        />
    }
}

/// The field where someone chooses a password (named `password`), with the
/// rule beneath it unless `help` says more.
#[component]
pub fn NewPasswordField(
    label: &'static str,
    errors: FieldErrors,
    #[prop(optional)] help: Option<&'static str>,
) -> impl IntoView {
    view! {
        <TextField
            name="password"
            label=label
            value=String::new()
            errors=errors
            max_length=None
            placeholder=None
            input_type="password"
            autocomplete="new-password"
            help=help.unwrap_or("At least 12 characters; a few unrelated words make a strong one.")
        />
    }
}

/// The resources (RFC 8707) an agent may ask tokens for: an optional text
/// area, one absolute URI a line, with its problem and help beneath it.
#[component]
pub fn ResourcesField(value: String, errors: FieldErrors) -> impl IntoView {
    let name = "resources";
    view! {
        <div class="span-2">
            <label for="field-resources">"Resources (optional)"</label>
            <textarea
                id="field-resources"
                name=name
                rows="3"
                placeholder="https://api.example.com"
                aria-invalid=invalid(&errors, name)
                aria-describedby="resources-error resources-help"
            >
                {value}
            </textarea>
            {field_error(&errors, name)}
            <p id="resources-help" class="muted small">
                "One absolute URI a line: the APIs this agent may ask tokens for (the "
                <code>"resource"</code>
                " parameter, RFC 8707). A token asked for one of them is valid only there; without, tokens carry the portal's default audience."
            </p>
        </div>
    }
}
