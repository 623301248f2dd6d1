//! Record lifecycle rules: validation rules (incl. `state_machine`). Flows and approvals join later.

pub mod validation;
