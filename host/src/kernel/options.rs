//! Select options that only some callers may choose (`options[].visibleWhen`): a write that sets such an
//! option when its condition does not hold for the caller is refused, as on the real server
//! (`Priority: option 'urgent' is not available`).

use super::Principal;
use crate::artifact::Artifact;
use crate::data::catalog::ObjectSchema;
use crate::data::driver::Record;
use crate::data::error::{DataError, FieldError};
use crate::expr::Compiled;
use serde_json::{Value, json};
use std::collections::HashMap;

/// One gated option: its value and the condition under which a caller may choose it.
struct Gate {
    value: String,
    when: Compiled,
}

#[derive(Default)]
pub struct OptionGates {
    /// (object, field) → its gated options.
    gates: HashMap<(String, String), Vec<Gate>>,
}

impl OptionGates {
    pub fn compile(artifact: &Artifact) -> Result<OptionGates, DataError> {
        let mut gates: HashMap<(String, String), Vec<Gate>> = HashMap::new();
        for object in &artifact.definition.objects {
            for (field, def) in &object.fields {
                for option in &def.options {
                    let Some(expr) = &option.visible_when else {
                        continue;
                    };
                    let when = crate::expr::compile(&expr.source).map_err(|e| {
                        DataError::Schema(format!(
                            "objects.{}.fields.{field}.options[{}].visibleWhen: {e}",
                            object.name, option.value
                        ))
                    })?;
                    gates
                        .entry((object.name.clone(), field.clone()))
                        .or_default()
                        .push(Gate {
                            value: option.value.clone(),
                            when,
                        });
                }
            }
        }
        Ok(OptionGates { gates })
    }

    /// Field errors for the gated options `values` sets that `principal` may not choose; `record` is the
    /// record as it would be written (`record` in the condition's scope).
    pub fn check(
        &self,
        principal: &Principal,
        schema: &ObjectSchema,
        values: &Record,
        record: &Record,
        user: &Value,
        errors: &mut Vec<FieldError>,
    ) {
        if self.gates.is_empty() || principal.is_system {
            return;
        }
        let now = chrono::Utc::now();
        for (field, value) in values {
            let Some(gates) = self.gates.get(&(schema.name.clone(), field.clone())) else {
                continue;
            };
            let chosen: Vec<&str> = match value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for gate in gates.iter().filter(|g| chosen.contains(&g.value.as_str())) {
                let allowed = matches!(
                    gate.when
                        .evaluate_in(record, &[("current_user", user), ("user", user)], now),
                    Ok(Value::Bool(true))
                );
                if !allowed {
                    let label = schema
                        .field(field)
                        .map(|f| f.label.clone())
                        .unwrap_or_else(|| field.clone());
                    let mut e = FieldError::new(
                        field,
                        &label,
                        "invalid_option",
                        format!("{label}: option '{}' is not available", gate.value),
                    );
                    e.value = Some(Box::new(json!(gate.value)));
                    errors.push(e);
                }
            }
        }
    }
}
