//! The messages the portal sends, each with a plain-text and an HTML part.
//! Links are built from the portal's public URL.

use super::outbox::Message;
use crate::PRODUCT_NAME;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// One message: a greeting paragraph, an optional button link, a closing
/// paragraph.
fn message(
    to: &str,
    subject: &str,
    intro: &str,
    link: Option<(&str, &str)>,
    outro: &str,
) -> Message {
    let mut text = format!("{intro}\n\n");
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5\">\
         <p>{}</p>",
        escape(intro)
    );
    if let Some((label, url)) = link {
        text.push_str(&format!("{label}: {url}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{url}\" style=\"display:inline-block;padding:8px 16px;background:#4f46e5;\
             color:#fff;border-radius:6px;text-decoration:none\">{}</a></p>\
             <p style=\"font-size:13px;color:#555\">Or paste this address into your browser: {}</p>",
            escape(label),
            escape(url),
            url = escape(url)
        ));
    }
    text.push_str(&format!("{outro}\n\n-- \n{PRODUCT_NAME}\n"));
    html.push_str(&format!(
        "<p>{}</p><p style=\"color:#555\">{PRODUCT_NAME}</p></body></html>",
        escape(outro)
    ));
    Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html,
    }
}

fn link(public_url: &str, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", public_url.trim_end_matches('/'))
}

/// No organisation name in it: whoever signs up chooses that, and this
/// message goes to an address nobody has proven yet (the page the link opens
/// names it).
pub fn verify_email(public_url: &str, to: &str, token: &str) -> Message {
    message(
        to,
        &format!("Verify your e-mail address for {PRODUCT_NAME}"),
        &format!(
            "Welcome to {PRODUCT_NAME}. Confirm that {to} is your address to start \
             registering agents."
        ),
        Some((
            "Verify my e-mail",
            &link(public_url, "/verify-email", token),
        )),
        "The link works once, for 24 hours. If you did not sign up, ignore this message.",
    )
}

pub fn sign_up_with_existing_address(public_url: &str, to: &str) -> Message {
    message(
        to,
        "Someone tried to sign up with your address",
        &format!(
            "Someone tried to create a new {PRODUCT_NAME} organisation with {to}, which \
             already has an account. Nothing was changed."
        ),
        Some((
            "Forgot your password? Reset it",
            &format!("{}/forgot-password", public_url.trim_end_matches('/')),
        )),
        "If this was not you, you need not do anything.",
    )
}

pub fn reset_password(public_url: &str, to: &str, token: &str) -> Message {
    message(
        to,
        "Reset your password",
        "Someone (hopefully you) asked to reset the password of this account.",
        Some((
            "Choose a new password",
            &link(public_url, "/reset-password", token),
        )),
        "The link works once, for one hour. If you did not ask, ignore this message: your \
         password stays as it is.",
    )
}

pub fn invitation(
    public_url: &str,
    to: &str,
    organisation: &str,
    invited_by: &str,
    role: crate::model::Role,
    token: &str,
) -> Message {
    message(
        to,
        // The organisation's name is its sign-up's choice: never in the
        // subject (a phishing lure there would read as ours), and quoted in
        // the body as a name, not a sentence of ours.
        &format!("Invitation to join an organisation on {PRODUCT_NAME}"),
        &format!(
            "{invited_by} invited you to join the organisation \u{201c}{organisation}\u{201d} \
             on {PRODUCT_NAME} as {} {role}.",
            if role == crate::model::Role::Admin {
                "an"
            } else {
                "a"
            }
        ),
        Some((
            "Accept the invitation",
            &link(public_url, "/invitation", token),
        )),
        "The invitation works once, for 7 days.",
    )
}

/// To each owner and admin, 7 days before an agent's current secret
/// expires by itself.
pub fn secret_expiring(
    public_url: &str,
    to: &str,
    agent: &str,
    agent_id: &str,
    label: &str,
    expires: &str,
) -> Message {
    let page = format!("{}/agents/{agent_id}", public_url.trim_end_matches('/'));
    message(
        to,
        // The agent's name is a tenant's choice: not in the subject.
        "An agent's secret expires in 7 days",
        &format!(
            "The secret {label} of the agent \u{201c}{agent}\u{201d} expires at {expires}. \
             After that the agent gets no token with it."
        ),
        Some(("Rotate the secret", &page)),
        "Rotate it on the agent's page before then, and give the agent the new secret: the \
         previous one keeps working for the window you choose, so nothing stops meanwhile.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_carry_the_link_and_html_is_escaped() {
        let m = invitation(
            "https://portal.example/",
            "a@b.co",
            "<Acme & Co>",
            "ada@b.co",
            crate::model::Role::Viewer,
            "tok",
        );
        assert!(m
            .text
            .contains("https://portal.example/invitation?token=tok"));
        assert!(m
            .html
            .contains("https://portal.example/invitation?token=tok"));
        assert!(m.html.contains("&lt;Acme &amp; Co&gt;"));
        assert!(!m.html.contains("<Acme"));
    }
}
