pub mod copy_secret;
pub mod format;
pub mod layout;
