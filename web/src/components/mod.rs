//! Components take props and never fetch; the pages own the data.

pub mod chat;
pub mod code;
pub mod diff;
pub mod focus;
pub mod markdown;
pub mod navbar;
pub mod review;
pub mod settings;
pub mod sidebar;
pub mod time;
pub mod tree;
pub mod viewer;
