pub mod charts;
pub mod copy_secret;
pub mod format;
pub mod islands;
pub mod layout;
