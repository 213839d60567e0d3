pub mod agent_detail;
pub mod agents;
pub mod analytics;
pub mod login;
pub mod not_found;
pub mod tier;
