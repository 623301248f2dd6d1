//! Field predicates: the conditions a field declares about itself. `readonlyWhen` (CEL over the stored
//! record) takes the field out of an update while it holds; `requiredWhen` (over the record as it will be)
//! makes a blank value an error; an option's `visibleWhen` (over `current_user` and the record) refuses a
//! write that chooses the option while it does not hold. The answers are the real server's words. A predicate
//! that cannot be evaluated does not hold.

use crate::data::catalog::ObjectSchema;
use crate::data::driver::Record;
use crate::data::error::FieldError;
use crate::data::values::is_blank;
use crate::expr::Compiled;
use serde_json::Value;

fn holds(c: &Compiled, record: &Record, user: &Value) -> bool {
    matches!(
        c.evaluate_in(
            record,
            &[("current_user", user), ("user", user)],
            chrono::Utc::now()
        ),
        Ok(Value::Bool(true))
    )
}

/// Takes out of an update's payload each field whose `readonlyWhen` holds on the stored record; answers
/// their names.
pub(crate) fn drop_readonly_when(
    schema: &ObjectSchema,
    existing: &Record,
    patch: &mut Record,
    user: &Value,
) -> Vec<String> {
    let dropped: Vec<String> = patch
        .keys()
        .filter(|k| {
            schema
                .field(k)
                .and_then(|f| f.predicates.as_ref())
                .and_then(|p| p.readonly_when.as_ref())
                .is_some_and(|c| holds(c, existing, user))
        })
        .cloned()
        .collect();
    for k in &dropped {
        patch.shift_remove(k);
    }
    dropped
}

/// The errors of a record about to be written: a blank field whose `requiredWhen` holds on it, and an
/// option chosen in this write (`written`) that is not offered to the caller.
pub(crate) fn check(
    schema: &ObjectSchema,
    candidate: &Record,
    written: &Record,
    user: &Value,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for f in &schema.fields {
        let Some(p) = &f.predicates else { continue };
        if let Some(c) = &p.required_when
            && candidate.get(&f.name).is_none_or(is_blank)
            && holds(c, candidate, user)
        {
            errors.push(FieldError::new(
                &f.name,
                &f.label,
                "required",
                format!("{} is required", f.label),
            ));
        }
        let Some(chosen) = written.get(&f.name) else {
            continue;
        };
        let chosen: Vec<&str> = match chosen {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for value in chosen {
            if let Some((_, c)) = p.option_visible_when.iter().find(|(o, _)| o == value)
                && !holds(c, candidate, user)
            {
                let mut e = FieldError::new(
                    &f.name,
                    &f.label,
                    "invalid_option",
                    format!("{}: option '{value}' is not available", f.label),
                );
                e.value = Some(Box::new(Value::String(value.to_string())));
                errors.push(e);
            }
        }
    }
    errors
}
