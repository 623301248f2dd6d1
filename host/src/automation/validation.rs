//! Object validation rules (PROTOCOL §2): `script` and `cross_field` (fail when the CEL is TRUE),
//! `state_machine` (allowed transitions on update, `initialStates` on insert; writing the same state is not a
//! transition), `format` (regex or email|url|phone|json), `json_schema`, `conditional` (`when` picks `then` or
//! `otherwise`). `events`, `active`, `priority` and `severity` apply: `warning` / `info` rules never block.
//! Compiled at artifact load; a rule whose CEL or regex does not compile is an error with its JSON path.

use crate::artifact::Artifact;
use crate::artifact::model::{Expression, RuleCommon, ValidationRule};
use crate::data::catalog::ObjectSchema;
use crate::data::error::{DataError, FieldError};
use crate::expr::Compiled;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Insert,
    Update,
}

struct Rule {
    name: String,
    insert: bool,
    update: bool,
    blocking: bool,
    message: String,
    kind: Kind,
}

enum Kind {
    Script(Compiled),
    CrossField(Compiled, Vec<String>),
    StateMachine {
        field: String,
        transitions: BTreeMap<String, Vec<String>>,
        initial: Option<Vec<String>>,
    },
    Format {
        field: String,
        regex: Option<regex::Regex>,
        format: Option<String>,
    },
    JsonSchema {
        field: String,
        validator: jsonschema::Validator,
    },
    Conditional {
        when: Compiled,
        then: Option<Box<Rule>>,
        otherwise: Option<Box<Rule>>,
    },
}

/// A rule that held with severity `warning` or `info`: reported, not blocking.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub rule: String,
    pub message: String,
}

#[derive(Default)]
pub struct Rules {
    by_object: HashMap<String, Vec<Rule>>,
}

fn cel(e: &Expression, path: &str, errors: &mut Vec<String>) -> Option<Compiled> {
    if e.dialect != "cel" {
        errors.push(format!(
            "{path}: only CEL expressions are supported, not {}",
            e.dialect
        ));
        return None;
    }
    match crate::expr::compile(&e.source) {
        Ok(c) => Some(c),
        Err(m) => {
            errors.push(format!("{path}: {m}"));
            None
        }
    }
}

fn compile_rule(rule: &ValidationRule, path: &str, errors: &mut Vec<String>) -> Option<Rule> {
    let common: &RuleCommon = rule.common();
    let kind = match rule {
        ValidationRule::Script { condition, .. } => {
            Kind::Script(cel(condition, &format!("{path}.condition"), errors)?)
        }
        ValidationRule::CrossField {
            condition, fields, ..
        } => Kind::CrossField(
            cel(condition, &format!("{path}.condition"), errors)?,
            fields.clone(),
        ),
        ValidationRule::StateMachine {
            field,
            transitions,
            initial_states,
            ..
        } => Kind::StateMachine {
            field: field.clone(),
            transitions: transitions.clone(),
            initial: initial_states.clone(),
        },
        ValidationRule::Format {
            field,
            regex,
            format,
            ..
        } => {
            let regex = match regex {
                Some(r) => match regex::Regex::new(r) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        errors.push(format!("{path}.regex: {e}"));
                        return None;
                    }
                },
                None => None,
            };
            if let Some(f) = format
                && !matches!(f.as_str(), "email" | "url" | "phone" | "json")
            {
                errors.push(format!(
                    "{path}.format: {f} is not one of email, url, phone, json"
                ));
                return None;
            }
            Kind::Format {
                field: field.clone(),
                regex,
                format: format.clone(),
            }
        }
        ValidationRule::JsonSchema { field, schema, .. } => match jsonschema::validator_for(schema)
        {
            Ok(validator) => Kind::JsonSchema {
                field: field.clone(),
                validator,
            },
            Err(e) => {
                errors.push(format!("{path}.schema: {e}"));
                return None;
            }
        },
        ValidationRule::Conditional {
            when,
            then,
            otherwise,
            ..
        } => {
            let nested = |v: &Value, key: &str, errors: &mut Vec<String>| -> Option<Box<Rule>> {
                match serde_json::from_value::<ValidationRule>(v.clone()) {
                    Ok(r) => compile_rule(&r, &format!("{path}.{key}"), errors).map(Box::new),
                    Err(e) => {
                        errors.push(format!("{path}.{key}: not a validation rule: {e}"));
                        None
                    }
                }
            };
            Kind::Conditional {
                when: cel(when, &format!("{path}.when"), errors)?,
                then: nested(then, "then", errors),
                otherwise: otherwise
                    .as_ref()
                    .and_then(|o| nested(o, "otherwise", errors)),
            }
        }
    };
    let events = &common.events;
    Some(Rule {
        name: common.name.clone().unwrap_or_default(),
        insert: events.is_empty() || events.iter().any(|e| e == "insert"),
        update: events.is_empty() || events.iter().any(|e| e == "update"),
        blocking: !matches!(common.severity.as_deref(), Some("warning" | "info")),
        message: common.message.clone().unwrap_or_else(|| {
            format!(
                "Validation rule {} failed",
                common.name.as_deref().unwrap_or("")
            )
        }),
        kind,
    })
}

impl Rules {
    /// Compiles every active rule of every object, in priority order; errors carry JSON paths.
    pub fn compile(artifact: &Artifact) -> Result<Rules, Vec<String>> {
        let mut errors = Vec::new();
        let mut by_object = HashMap::new();
        for (i, o) in artifact.definition.objects.iter().enumerate() {
            let mut ordered: Vec<(i64, usize, &ValidationRule)> = o
                .validations
                .iter()
                .enumerate()
                .filter(|(_, r)| r.common().active)
                .map(|(j, r)| (r.common().priority.unwrap_or(100), j, r))
                .collect();
            ordered.sort_by_key(|(p, j, _)| (*p, *j));
            let rules: Vec<Rule> = ordered
                .into_iter()
                .filter_map(|(_, j, r)| {
                    compile_rule(r, &format!("objects[{i}].validations[{j}]"), &mut errors)
                })
                .collect();
            if !rules.is_empty() {
                by_object.insert(o.name.clone(), rules);
            }
        }
        if errors.is_empty() {
            Ok(Rules { by_object })
        } else {
            Err(errors)
        }
    }

    pub fn has_rules(&self, object: &str) -> bool {
        self.by_object.contains_key(object)
    }

    /// Checks a record about to be written (`record` is the whole record after the write; `previous` the
    /// stored one on update). Blocking violations fail the write, all at once; warnings are returned.
    pub fn check(
        &self,
        schema: &ObjectSchema,
        event: Event,
        record: &Map<String, Value>,
        previous: Option<&Map<String, Value>>,
        user: &Value,
    ) -> Result<Vec<Warning>, DataError> {
        let Some(rules) = self.by_object.get(&schema.name) else {
            return Ok(Vec::new());
        };
        let now = chrono::Utc::now();
        let previous_value = previous.map(|p| Value::Object(p.clone()));
        let os = json!({"org": {"id": user.get("organizationId").cloned().unwrap_or(Value::Null)}});
        let mut roots: Vec<(&str, &Value)> =
            vec![("user", user), ("current_user", user), ("os", &os)];
        if let Some(p) = &previous_value {
            roots.push(("previous", p));
        }
        let scope = Scope {
            schema,
            record,
            previous,
            roots: &roots,
            now,
        };
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for rule in rules {
            let applies = match event {
                Event::Insert => rule.insert,
                Event::Update => rule.update,
            };
            if !applies {
                continue;
            }
            if let Some(e) = scope.violation(rule, event) {
                if rule.blocking {
                    errors.push(e);
                } else {
                    tracing::info!(object = %schema.name, rule = %rule.name, "validation warning: {}", e.message);
                    warnings.push(Warning {
                        rule: rule.name.clone(),
                        message: e.message,
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(warnings)
        } else {
            Err(DataError::validation(&schema.name, errors))
        }
    }
}

struct Scope<'a> {
    schema: &'a ObjectSchema,
    record: &'a Map<String, Value>,
    previous: Option<&'a Map<String, Value>>,
    roots: &'a [(&'a str, &'a Value)],
    now: chrono::DateTime<chrono::Utc>,
}

impl Scope<'_> {
    /// A CEL condition's verdict. A condition that cannot be evaluated fails closed, as on the real server
    /// (the fault is returned), except one reading a root this event does not have (e.g. `previous` on
    /// insert), which does not hold.
    fn holds(&self, c: &Compiled) -> Result<bool, String> {
        match c.evaluate_in(self.record, self.roots, self.now) {
            Ok(v) => Ok(v == Value::Bool(true)),
            Err(fault) if fault.starts_with("runtime: Undeclared reference") => Ok(false),
            Err(fault) => Err(fault),
        }
    }

    fn label(&self, field: &str) -> String {
        self.schema
            .field(field)
            .map(|f| f.label.clone())
            .unwrap_or_else(|| field.to_string())
    }

    fn field_error(&self, field: &str, code: &'static str, message: &str) -> FieldError {
        FieldError::new(field, &self.label(field), code, message.to_string())
    }

    /// A script or cross-field rule's verdict as a field error: the rule's message, no label.
    fn scripted(&self, rule: &Rule, c: &Compiled, field: Option<&str>) -> Option<FieldError> {
        match self.holds(c) {
            Ok(true) => Some(rule_error(
                field.unwrap_or("_record"),
                "rule_violation",
                &rule.message,
            )),
            Ok(false) => None,
            Err(fault) => Some(unevaluable(&rule.name, &fault)),
        }
    }

    fn violation(&self, rule: &Rule, event: Event) -> Option<FieldError> {
        match &rule.kind {
            Kind::Script(c) => self.scripted(rule, c, None),
            Kind::CrossField(c, fields) => {
                self.scripted(rule, c, fields.first().map(String::as_str))
            }
            Kind::StateMachine {
                field,
                transitions,
                initial,
            } => {
                let to = self.record.get(field).and_then(Value::as_str)?;
                match (event, self.previous) {
                    (Event::Insert, _) | (Event::Update, None) => {
                        let allowed = initial.as_ref()?;
                        (!allowed.iter().any(|s| s == to)).then(|| {
                            let mut e =
                                self.field_error(field, "invalid_initial_state", &rule.message);
                            e.constraint = Some(Box::new(json!({"allowed": allowed.join(", ")})));
                            e.value = Some(Box::new(json!(to)));
                            e
                        })
                    }
                    (Event::Update, Some(previous)) => {
                        let from = previous.get(field).and_then(Value::as_str)?;
                        if from == to {
                            return None;
                        }
                        let ok = transitions
                            .get(from)
                            .is_some_and(|targets| targets.iter().any(|t| t == to));
                        (!ok).then(|| {
                            let mut e =
                                self.field_error(field, "invalid_transition", &rule.message);
                            e.constraint = Some(Box::new(json!({"from": from, "to": to})));
                            e
                        })
                    }
                }
            }
            Kind::Format {
                field,
                regex,
                format,
            } => {
                let value = self.record.get(field).and_then(Value::as_str)?;
                if value.is_empty() {
                    return None;
                }
                let ok = regex.as_ref().is_none_or(|r| r.is_match(value))
                    && format.as_deref().is_none_or(|f| well_formed(f, value));
                (!ok).then(|| rule_error(field, "invalid_format", &rule.message))
            }
            Kind::JsonSchema { field, validator } => {
                let value = self.record.get(field)?;
                if value.is_null() {
                    return None;
                }
                // JSON fields may arrive as text; text that is not JSON fails the rule.
                let parsed;
                let value = match value {
                    Value::String(s) => match serde_json::from_str::<Value>(s) {
                        Ok(v) => {
                            parsed = v;
                            &parsed
                        }
                        Err(_) => return Some(rule_error(field, "invalid_json", &rule.message)),
                    },
                    v => v,
                };
                (!validator.is_valid(value))
                    .then(|| rule_error(field, "json_schema_violation", &rule.message))
            }
            Kind::Conditional {
                when,
                then,
                otherwise,
            } => {
                let branch = match self.holds(when) {
                    Ok(true) => then,
                    Ok(false) => otherwise,
                    Err(fault) => return Some(unevaluable(&rule.name, &fault)),
                };
                branch.as_ref().and_then(|r| self.violation(r, event))
            }
        }
    }
}

/// A rule's own error: the rule's message, without the field's label (as the real server answers).
fn rule_error(field: &str, code: &'static str, message: &str) -> FieldError {
    let mut e = FieldError::new(field, "", code, message.to_string());
    e.label = None;
    e
}

/// A rule whose condition cannot be evaluated rejects the write, saying why (the real server's words).
fn unevaluable(rule: &str, fault: &str) -> FieldError {
    let mut constraint = json!({"rule": rule, "reason": "unevaluable", "fault": fault});
    let mut message = format!(
        "Validation rule '{rule}' could not be evaluated ({fault}) \u{2014} write rejected."
    );
    if let Some(key) = fault.strip_prefix("runtime: No such key: ") {
        message.push_str(&format!(
            " The predicate reads '{key}', which this object does not declare \u{2014} fix the rule's \
             condition, or declare the field."
        ));
        constraint["missingKey"] = json!(key);
    } else if fault.contains("dyn<null>") {
        message.push_str(
            " The predicate compares a value that is null. Guard it with '!= null' \u{2014} 'has(x)' does \
             NOT do that: a declared field holding null is still PRESENT, so has(x) is true.",
        );
        constraint["hint"] = json!("null-comparison");
    }
    rule_error("_record", "rule_violation", &message).with_constraint(constraint)
}

fn well_formed(format: &str, value: &str) -> bool {
    match format {
        "email" => {
            let mut parts = value.splitn(2, '@');
            let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !value.contains(' ')
        }
        "url" => url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
        "phone" => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            (7..=15).contains(&digits)
                && value
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        }
        "json" => serde_json::from_str::<Value>(value).is_ok(),
        _ => true,
    }
}
