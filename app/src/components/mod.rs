pub mod charts;
pub mod copy_secret;
pub mod form_field;
pub mod format;
pub mod islands;
pub mod layout;
pub mod loaded;
pub mod status_badge;
