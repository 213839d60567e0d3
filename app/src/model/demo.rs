//! The demo accounts `portal serve --demo` shows on the sign-in page.

/// Demo accounts to show on the sign-in page when the server runs in demo mode.
#[derive(Debug, Clone, Default)]
pub struct DemoAccounts {
    pub password: String,
    /// (e-mail, what the account is)
    pub accounts: Vec<(String, String)>,
}
