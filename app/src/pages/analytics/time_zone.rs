//! The tenant's time zone, which analytics buckets days and hours in.

use leptos::prelude::*;

use crate::model::forms::TimeZoneFormState;

#[component]
pub(super) fn TimeZoneSetting(
    zone: String,
    can_manage: bool,
    /// What a failed change handed back.
    state: Option<TimeZoneFormState>,
) -> impl IntoView {
    let value = state
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or_else(|| zone.clone());
    let error = state
        .map(|s| s.errors.to_string())
        .filter(|e| !e.is_empty())
        .map(|e| {
            view! {
                <p class="form-error" role="alert" id="time-zone-error">
                    {e}
                </p>
            }
        });
    let options = crate::model::TIME_ZONE_CHOICES
        .iter()
        .map(|z| view! { <option value=*z></option> })
        .collect_view();
    let form = can_manage.then(|| {
        view! {
            <form method="post" action="/analytics/time-zone" class="inline-form">
                <label for="time-zone">"Time zone"</label>
                <input
                    id="time-zone"
                    name="time_zone"
                    list="time-zones"
                    value=value
                    required
                    aria-describedby="time-zone-error"
                />
                <datalist id="time-zones">{options}</datalist>
                <button type="submit" class="button">
                    "Save"
                </button>
            </form>
        }
    });
    view! {
        <section class="panel settings-panel">
            <h2>"Time zone"</h2>
            <p class="muted">
                "Days, hours and the month above are in "
                <strong data-testid="tenant-zone">{zone}</strong>
                ". Daily limits still reset at 00:00 UTC."
            </p>
            {error}
            {form}
        </section>
    }
}
