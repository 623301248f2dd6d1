//! Artifact validation with path-precise errors. A broken artifact never half-boots: every problem is collected
//! (not just the first) so an author fixes them in one round.

use super::fields::{
    DeleteBehavior, FieldDef, FieldType, Uniqueness, is_valid_identifier, is_valid_option_value,
};
use super::load::json_kind;
use super::model::{ALLOWED_TOP_LEVEL_KEYS, Definition, RETIRED_TOP_LEVEL_KEYS};
use super::{ArtifactError, Problem};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Objects the runtime provides itself; artifacts may reference them.
pub const SYSTEM_OBJECTS: &[&str] = &[
    "sys_user",
    "sys_organization",
    "sys_business_unit",
    "sys_position",
    "sys_permission_set",
    "sys_team",
    "sys_file",
    "sys_audit_log",
];

pub fn is_system_object(name: &str) -> bool {
    SYSTEM_OBJECTS.contains(&name) || name.starts_with("sys_")
}

/// Columns every object gets; see data::schema.
pub const SYSTEM_FIELDS: &[&str] = &[
    "id",
    "organization_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "owner_id",
    "owning_business_unit_id",
];

pub const HOOK_EVENTS: &[&str] = &[
    "beforeFind",
    "afterFind",
    "beforeInsert",
    "afterInsert",
    "beforeUpdate",
    "afterUpdate",
    "beforeDelete",
    "afterDelete",
];

const SHARING_MODELS: &[&str] = &[
    "private",
    "public_read",
    "public_read_write",
    "controlled_by_parent",
];
const OWNERSHIPS: &[&str] = &["user", "business_unit", "org", "none"];
const VALIDATION_TYPES: &[&str] = &[
    "script",
    "state_machine",
    "format",
    "cross_field",
    "json_schema",
    "conditional",
];
const BODY_LANGUAGES: &[&str] = &["js", "expression", "wasm"];
const MAX_BODY_TIMEOUT_MS: u64 = 30_000;
const MAX_BODY_MEMORY_MB: u64 = 256;

#[derive(Debug, Default)]
pub struct ValidationReport {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl ValidationReport {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem::new(path, message));
    }
    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem::new(path, message));
    }
}

/// Validates a bare definition.
pub fn validate(raw: &Value) -> ValidationReport {
    let mut report = ValidationReport::default();
    let Some(root) = raw.as_object() else {
        report.error(
            "$",
            format!(
                "the definition must be a JSON object, found {}",
                json_kind(raw)
            ),
        );
        return report;
    };
    for key in root.keys() {
        if RETIRED_TOP_LEVEL_KEYS.contains(&key.as_str()) {
            report.error(
                key.clone(),
                "section retired in protocol 17; recompile the app with ObjectStack 17",
            );
        } else if !ALLOWED_TOP_LEVEL_KEYS.contains(&key.as_str()) {
            report.error(key.clone(), "unknown top-level section");
        }
    }
    for key in [
        "datasources",
        "objects",
        "objectExtensions",
        "actions",
        "flows",
        "positions",
        "permissions",
        "hooks",
        "data",
    ] {
        if let Some(v) = root.get(key)
            && !v.is_array()
        {
            report.error(key, format!("must be an array, found {}", json_kind(v)));
        }
    }
    check_manifest(root, &mut report);

    let datasources = declared_datasources(root);
    let objects = array(root, "objects");
    let mut object_index: HashMap<String, usize> = HashMap::new();
    for (i, obj) in objects.iter().enumerate() {
        let path = format!("objects[{i}]");
        match obj.get("name").and_then(Value::as_str) {
            None => report.error(format!("{path}.name"), "missing object name"),
            Some(name) if !is_valid_identifier(name) => report.error(
                format!("{path}.name"),
                format!(
                    "object name \"{name}\" must match ^[a-z_][a-z0-9_]*$ (at most 63 characters)"
                ),
            ),
            Some(name) if name.starts_with("sys_") => report.error(
                format!("{path}.name"),
                format!("object name \"{name}\" uses the sys_ prefix, which is reserved for runtime-provided objects"),
            ),
            Some(name) => {
                if let Some(first) = object_index.get(name) {
                    report.error(
                        format!("{path}.name"),
                        format!(
                            "duplicate object name \"{name}\" (first declared at objects[{first}])"
                        ),
                    );
                } else {
                    object_index.insert(name.to_string(), i);
                }
            }
        }
    }
    // The runtime provides `sys_*` objects (users, organizations, positions, …); artifacts may name them.
    let known_object = |name: &str| object_index.contains_key(name) || is_system_object(name);

    // Fields of each object, extensions merged, for cross-reference checks.
    let mut fields_of: HashMap<String, Map<String, Value>> = HashMap::new();
    for obj in objects {
        if let (Some(name), Some(Value::Object(fields))) =
            (obj.get("name").and_then(Value::as_str), obj.get("fields"))
        {
            fields_of
                .entry(name.to_string())
                .or_insert_with(|| fields.clone());
        }
    }
    for (i, ext) in array(root, "objectExtensions").iter().enumerate() {
        match ext.get("extend").and_then(Value::as_str) {
            Some(target) if object_index.contains_key(target) => {
                if let (Some(Value::Object(extra)), Some(existing)) =
                    (ext.get("fields"), fields_of.get_mut(target))
                {
                    for (k, v) in extra {
                        existing.insert(k.clone(), v.clone());
                    }
                }
            }
            Some(target) => report.error(
                format!("objectExtensions[{i}].extend"),
                format!("object \"{target}\" does not exist"),
            ),
            None => report.error(
                format!("objectExtensions[{i}].extend"),
                "missing the name of the object to extend",
            ),
        }
    }

    for (i, obj) in objects.iter().enumerate() {
        check_object(i, obj, &fields_of, &known_object, &datasources, &mut report);
    }
    for (i, ext) in array(root, "objectExtensions").iter().enumerate() {
        if let (Some(_), Some(Value::Object(fields))) =
            (ext.get("extend").and_then(Value::as_str), ext.get("fields"))
        {
            for (fname, fdef) in fields {
                check_field(
                    &format!("objectExtensions[{i}].fields.{fname}"),
                    fname,
                    fdef,
                    &fields_of,
                    &known_object,
                    &mut report,
                );
            }
        }
    }
    check_required_reference_cycles(objects, &fields_of, &mut report);
    check_hooks(root, &known_object, &mut report);
    check_actions(root, &known_object, &mut report);
    check_permissions(root, &fields_of, &known_object, &mut report);
    check_seeds(root, &fields_of, &mut report);
    check_functions(root, &mut report);
    report
}

/// Turns a validated raw definition into the typed model (object extensions merged in).
pub fn to_model(raw: &Value) -> Result<Definition, ArtifactError> {
    let mut definition: Definition = serde_json::from_value(raw.clone()).map_err(|e| {
        ArtifactError::invalid(vec![Problem::new(
            "$",
            format!("does not match the definition schema: {e}"),
        )])
    })?;
    let mut extensions = std::mem::take(&mut definition.object_extensions);
    extensions.sort_by_key(|e| e.priority.unwrap_or(200));
    for ext in &extensions {
        if let Some(obj) = definition.objects.iter_mut().find(|o| o.name == ext.extend) {
            for (k, v) in &ext.fields {
                obj.fields.insert(k.clone(), v.clone());
            }
            obj.validations.extend(ext.validations.iter().cloned());
            obj.indexes.extend(ext.indexes.iter().cloned());
        }
    }
    definition.object_extensions = extensions;
    Ok(definition)
}

fn array<'a>(root: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    root.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn declared_datasources(root: &Map<String, Value>) -> HashSet<String> {
    let mut names: HashSet<String> = array(root, "datasources")
        .iter()
        .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    names.insert("default".to_string());
    if let Some(d) = root
        .get("manifest")
        .and_then(|m| m.get("defaultDatasource"))
        .and_then(Value::as_str)
    {
        names.insert(d.to_string());
    }
    names
}

fn check_manifest(root: &Map<String, Value>, report: &mut ValidationReport) {
    let Some(manifest) = root.get("manifest") else {
        return;
    };
    let Some(manifest) = manifest.as_object() else {
        report.error(
            "manifest",
            format!("must be an object, found {}", json_kind(manifest)),
        );
        return;
    };
    if let Some(range) = manifest
        .get("engines")
        .and_then(|e| e.get("protocol"))
        .and_then(Value::as_str)
        && !protocol_range_accepts_17(range)
    {
        report.error(
            "manifest.engines.protocol",
            format!("OS_PROTOCOL_INCOMPATIBLE: the app requires protocol \"{range}\", this runtime speaks protocol 17"),
        );
    }
}

/// Accepts `*`, `17`, `^17…`, `~17…`, `17.x`, `>=N` with N ≤ 17.
fn protocol_range_accepts_17(range: &str) -> bool {
    range.split("||").any(|alt| {
        let alt = alt.trim();
        if alt == "*" || alt.is_empty() {
            return true;
        }
        let major = |s: &str| {
            s.trim()
                .split('.')
                .next()
                .and_then(|m| m.trim().parse::<u64>().ok())
        };
        if let Some(rest) = alt.strip_prefix(">=") {
            return major(rest).is_some_and(|m| m <= 17);
        }
        let rest = alt.trim_start_matches(['^', '~', '=']);
        major(rest) == Some(17)
    })
}

fn check_object(
    i: usize,
    obj: &Value,
    fields_of: &HashMap<String, Map<String, Value>>,
    known_object: &dyn Fn(&str) -> bool,
    datasources: &HashSet<String>,
    report: &mut ValidationReport,
) {
    let path = format!("objects[{i}]");
    let Some(obj) = obj.as_object() else {
        report.error(
            path,
            format!(
                "an object definition must be a JSON object, found {}",
                json_kind(obj)
            ),
        );
        return;
    };
    let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
    if let Some(model) = obj.get("sharingModel") {
        match model.as_str() {
            Some(m) if SHARING_MODELS.contains(&m) => {}
            _ => report.error(
                format!("{path}.sharingModel"),
                format!(
                    "unknown sharing model {model}; expected one of {}",
                    SHARING_MODELS.join(", ")
                ),
            ),
        }
    }
    if let Some(own) = obj.get("ownership") {
        match own.as_str() {
            Some(m) if OWNERSHIPS.contains(&m) => {}
            _ => report.error(
                format!("{path}.ownership"),
                format!(
                    "unknown ownership {own}; expected one of {}",
                    OWNERSHIPS.join(", ")
                ),
            ),
        }
    }
    if let Some(ds) = obj.get("datasource").and_then(Value::as_str)
        && !datasources.contains(ds)
    {
        report.error(
            format!("{path}.datasource"),
            format!("datasource \"{ds}\" is not declared in datasources"),
        );
    }
    let fields = match obj.get("fields") {
        Some(Value::Object(f)) => f,
        Some(other) => {
            report.error(
                format!("{path}.fields"),
                format!(
                    "must be a map of field name to field, found {}",
                    json_kind(other)
                ),
            );
            return;
        }
        None => {
            report.error(
                format!("{path}.fields"),
                "missing; an object needs at least one field",
            );
            return;
        }
    };
    let all_fields = fields_of.get(name).unwrap_or(fields);
    for (fname, fdef) in fields {
        check_field(
            &format!("{path}.fields.{fname}"),
            fname,
            fdef,
            fields_of,
            known_object,
            report,
        );
    }
    let field_exists = |f: &str| all_fields.contains_key(f) || SYSTEM_FIELDS.contains(&f);
    for (j, idx) in obj
        .get("indexes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let ipath = format!("{path}.indexes[{j}]");
        match idx.get("fields").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => {
                for (k, f) in list.iter().enumerate() {
                    match f.as_str() {
                        Some(f) if field_exists(f) => {}
                        _ => report.error(
                            format!("{ipath}.fields[{k}]"),
                            format!("index names {f}, which is not a field of \"{name}\""),
                        ),
                    }
                }
            }
            _ => report.error(
                format!("{ipath}.fields"),
                "an index needs a non-empty list of fields",
            ),
        }
        if Uniqueness::from_json(idx.get("unique")).is_none() {
            report.error(
                format!("{ipath}.unique"),
                "must be false, true, \"global\" or \"organization\"",
            );
        }
    }
    for key in ["nameField", "displayNameField"] {
        if let Some(f) = obj.get(key).and_then(Value::as_str)
            && !field_exists(f)
        {
            report.error(
                format!("{path}.{key}"),
                format!("field \"{f}\" does not exist on \"{name}\""),
            );
        }
    }
    if let Some(list) = obj.get("searchableFields").and_then(Value::as_array) {
        for (k, f) in list.iter().enumerate() {
            if !f.as_str().is_some_and(field_exists) {
                report.error(
                    format!("{path}.searchableFields[{k}]"),
                    format!("{f} is not a field of \"{name}\""),
                );
            }
        }
    }
    for (j, rule) in obj
        .get("validations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        check_validation_rule(
            &format!("{path}.validations[{j}]"),
            name,
            rule,
            all_fields,
            report,
        );
    }
}

fn check_field(
    path: &str,
    name: &str,
    def: &Value,
    fields_of: &HashMap<String, Map<String, Value>>,
    known_object: &dyn Fn(&str) -> bool,
    report: &mut ValidationReport,
) {
    if !is_valid_identifier(name) {
        report.error(
            path,
            format!("field name \"{name}\" must match ^[a-z_][a-z0-9_]*$ (at most 63 characters)"),
        );
    }
    let Some(obj) = def.as_object() else {
        report.error(
            path,
            format!("a field must be a JSON object, found {}", json_kind(def)),
        );
        return;
    };
    let type_name = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            report.error(
                format!("{path}.type"),
                format!("must be a string, found {}", json_kind(other)),
            );
            return;
        }
        None => {
            report.error(format!("{path}.type"), "missing field type");
            return;
        }
    };
    let Some(ftype) = FieldType::parse(type_name) else {
        let suggestion = closest(type_name, FieldType::ALL.iter().map(|t| t.as_str()))
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        report.error(
            format!("{path}.type"),
            format!("unknown field type \"{type_name}\"{suggestion}"),
        );
        return;
    };
    let field: FieldDef = match serde_json::from_value(def.clone()) {
        Ok(f) => f,
        Err(e) => {
            report.error(path, format!("malformed field definition: {e}"));
            return;
        }
    };
    for (key, v) in [
        ("maxLength", field.max_length),
        ("minLength", field.min_length),
    ] {
        if let Some(v) = v
            && v < 0
        {
            report.error(
                format!("{path}.{key}"),
                format!("must not be negative (got {v})"),
            );
        }
    }
    if let (Some(min), Some(max)) = (field.min_length, field.max_length)
        && min > max
    {
        report.error(
            format!("{path}.minLength"),
            format!("minLength {min} is greater than maxLength {max}"),
        );
    }
    if let (Some(min), Some(max)) = (field.min, field.max)
        && min > max
    {
        report.error(
            format!("{path}.min"),
            format!("min {min} is greater than max {max}"),
        );
    }
    if let Some(scale) = field.scale
        && !(0..=12).contains(&scale)
    {
        report.error(
            format!("{path}.scale"),
            format!("scale must be between 0 and 12 (got {scale})"),
        );
    }
    if let (Some(p), Some(s)) = (field.precision, field.scale)
        && p < s
        && ftype != FieldType::Currency
    {
        report.error(
            format!("{path}.precision"),
            format!("precision {p} is smaller than scale {s}"),
        );
    }
    if Uniqueness::from_json(field.unique.as_ref()).is_none() {
        report.error(
            format!("{path}.unique"),
            "must be false, true, \"global\" or \"organization\"",
        );
    }
    if ftype.has_options() {
        check_options(path, obj, &field, report);
    }
    if ftype.is_reference() {
        match (&field.reference, ftype) {
            (None, FieldType::Tree | FieldType::User) => {}
            (None, _) => report.error(
                format!("{path}.reference"),
                format!("a {type_name} field needs a reference object"),
            ),
            (Some(target), _) if !known_object(target) => {
                let suggestion = closest(target, fields_of.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                report.error(
                    format!("{path}.reference"),
                    format!("object \"{target}\" does not exist{suggestion}"),
                );
            }
            _ => {}
        }
        if let Some(b) = &field.delete_behavior
            && DeleteBehavior::parse(b).is_none()
        {
            report.error(
                format!("{path}.deleteBehavior"),
                format!("unknown delete behavior \"{b}\"; expected set_null, cascade or restrict"),
            );
        }
    }
    if ftype == FieldType::Formula {
        match &field.expression {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::Object(e))
                if e.get("source")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty()) => {}
            _ => report.error(
                format!("{path}.expression"),
                "a formula field needs a CEL expression",
            ),
        }
        check_cel(
            report,
            format!("{path}.expression"),
            field.expression.as_ref(),
        );
        if let Some(rt) = &field.return_type
            && ![
                "number", "text", "boolean", "date", "datetime", "currency", "percent",
            ]
            .contains(&rt.as_str())
        {
            report.error(
                format!("{path}.returnType"),
                format!("unknown formula return type \"{rt}\""),
            );
        }
    }
    if ftype == FieldType::Summary {
        match obj.get("summaryOperations") {
            Some(Value::Object(ops)) => {
                if let Some(target) = ops.get("object").and_then(Value::as_str)
                    && !known_object(target)
                {
                    report.error(
                        format!("{path}.summaryOperations.object"),
                        format!("object \"{target}\" does not exist"),
                    );
                }
                if let Some(f) = ops.get("function").and_then(Value::as_str)
                    && !["count", "sum", "min", "max", "avg"].contains(&f)
                {
                    report.error(
                        format!("{path}.summaryOperations.function"),
                        format!("unknown summary function \"{f}\""),
                    );
                }
            }
            _ => report.warn(
                path,
                "summary field without summaryOperations is always empty",
            ),
        }
    }
    if ftype == FieldType::Autonumber
        && let Some(fmt) = &field.autonumber_format
        && let Err(e) = crate::data::scalar::AutonumberFormat::parse(fmt)
    {
        report.error(format!("{path}.autonumberFormat"), e);
    }
    if ftype == FieldType::Vector && field.dimensions.is_some_and(|d| d <= 0) {
        report.error(
            format!("{path}.dimensions"),
            "must be a positive number of dimensions",
        );
    }
    if let Some(default) = &field.default_value {
        check_default(path, ftype, &field, default, report);
    }
}

fn check_options(
    path: &str,
    obj: &Map<String, Value>,
    field: &FieldDef,
    report: &mut ValidationReport,
) {
    match obj.get("options") {
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut seen = HashSet::new();
            let mut defaults = 0;
            for (k, opt) in list.iter().enumerate() {
                match opt.get("value").and_then(Value::as_str) {
                    Some(v) if !is_valid_option_value(v) => report.error(
                        format!("{path}.options[{k}].value"),
                        format!("option value \"{v}\" must match ^[a-z][a-z0-9_.]*$"),
                    ),
                    Some(v) if !seen.insert(v.to_string()) => report.error(
                        format!("{path}.options[{k}].value"),
                        format!("duplicate option value \"{v}\""),
                    ),
                    Some(_) => {}
                    None => report.error(
                        format!("{path}.options[{k}].value"),
                        "an option needs a string value",
                    ),
                }
                if opt.get("default") == Some(&Value::Bool(true)) {
                    defaults += 1;
                }
            }
            if defaults > 1 && !field.multiple {
                report.error(
                    format!("{path}.options"),
                    format!(
                        "{defaults} options are marked default; a single-value field can have one"
                    ),
                );
            }
        }
        Some(Value::Array(_)) | None => report.error(
            format!("{path}.options"),
            "a choice field needs at least one option",
        ),
        Some(other) => report.error(
            format!("{path}.options"),
            format!("must be an array, found {}", json_kind(other)),
        ),
    }
}

fn check_default(
    path: &str,
    ftype: FieldType,
    field: &FieldDef,
    default: &Value,
    report: &mut ValidationReport,
) {
    let dpath = format!("{path}.defaultValue");
    // CEL defaults and tokens are evaluated at write time.
    if default.is_null() || default.get("dialect").is_some() || default.get("source").is_some() {
        return;
    }
    if let Value::String(s) = default
        && matches!(
            s.as_str(),
            "NOW()" | "now" | "TODAY()" | "today" | "current_user" | "CURRENT_USER"
        )
    {
        return;
    }
    let allowed: Vec<&str> = field.options.iter().map(|o| o.value.as_str()).collect();
    let bad = |report: &mut ValidationReport, what: &str| {
        report.error(dpath.clone(), format!("default {default} is not {what}"));
    };
    if ftype.has_options() {
        let values: Vec<&Value> = match default {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for v in values {
            match v.as_str() {
                Some(s) if allowed.contains(&s) => {}
                _ => report.error(
                    dpath.clone(),
                    format!(
                        "default {v} is not among the options ({})",
                        allowed.join(", ")
                    ),
                ),
            }
        }
    } else if ftype.is_numeric() {
        if !default.is_number() {
            bad(report, "a number");
        } else if let Some(n) = default.as_f64()
            && (field.min.is_some_and(|m| n < m) || field.max.is_some_and(|m| n > m))
        {
            report.error(
                dpath.clone(),
                format!("default {n} is outside the field's min/max"),
            );
        }
    } else if matches!(ftype, FieldType::Boolean | FieldType::Toggle) {
        if !default.is_boolean() {
            bad(report, "a boolean");
        }
    } else if ftype.is_virtual() || ftype == FieldType::Autonumber {
        report.error(dpath, "a computed field cannot have a default value");
    }
}

fn check_validation_rule(
    path: &str,
    object: &str,
    rule: &Value,
    fields: &Map<String, Value>,
    report: &mut ValidationReport,
) {
    let Some(rule) = rule.as_object() else {
        report.error(path, "a validation rule must be an object");
        return;
    };
    let kind = rule.get("type").and_then(Value::as_str).unwrap_or("");
    if !VALIDATION_TYPES.contains(&kind) {
        report.error(
            format!("{path}.type"),
            format!(
                "unknown validation rule type \"{kind}\"; expected one of {}",
                VALIDATION_TYPES.join(", ")
            ),
        );
        return;
    }
    let field_of =
        |key: &str| -> Option<String> { rule.get(key).and_then(Value::as_str).map(str::to_string) };
    for key in ["condition", "when"] {
        check_cel(report, format!("{path}.{key}"), rule.get(key));
    }
    match kind {
        "script" | "cross_field" if !is_expression(rule.get("condition")) => {
            report.error(
                format!("{path}.condition"),
                format!("a {kind} rule needs a CEL condition"),
            );
        }
        "conditional" if !is_expression(rule.get("when")) => {
            report.error(
                format!("{path}.when"),
                "a conditional rule needs a `when` condition",
            );
        }
        "state_machine" => match field_of("field") {
            None => report.error(
                format!("{path}.field"),
                "a state_machine rule needs a field",
            ),
            Some(f) if !fields.contains_key(&f) => report.error(
                format!("{path}.field"),
                format!("field \"{f}\" does not exist on \"{object}\""),
            ),
            Some(f) => {
                let options: Option<Vec<String>> = fields
                    .get(&f)
                    .and_then(|d| d.get("options"))
                    .and_then(Value::as_array)
                    .map(|opts| {
                        opts.iter()
                            .filter_map(|o| {
                                o.get("value").and_then(Value::as_str).map(str::to_string)
                            })
                            .collect()
                    });
                match rule.get("transitions") {
                    Some(Value::Object(t)) => {
                        if let Some(options) = options {
                            for (from, tos) in t {
                                if !options.contains(from) {
                                    report.error(
                                        format!("{path}.transitions.{from}"),
                                        format!("state \"{from}\" is not an option of \"{f}\""),
                                    );
                                }
                                for (k, to) in tos
                                    .as_array()
                                    .map(Vec::as_slice)
                                    .unwrap_or(&[])
                                    .iter()
                                    .enumerate()
                                {
                                    if !to.as_str().is_some_and(|s| options.iter().any(|o| o == s))
                                    {
                                        report.error(
                                            format!("{path}.transitions.{from}[{k}]"),
                                            format!("state {to} is not an option of \"{f}\""),
                                        );
                                    }
                                }
                            }
                        }
                    }
                    _ => report.error(
                        format!("{path}.transitions"),
                        "a state_machine rule needs a transitions map",
                    ),
                }
            }
        },
        "format" | "json_schema" => match field_of("field") {
            Some(f) if fields.contains_key(&f) => {}
            Some(f) => report.error(
                format!("{path}.field"),
                format!("field \"{f}\" does not exist on \"{object}\""),
            ),
            None => report.error(
                format!("{path}.field"),
                format!("a {kind} rule needs a field"),
            ),
        },
        _ => {}
    }
    if let Some(Value::Array(events)) = rule.get("events") {
        for (k, e) in events.iter().enumerate() {
            if !matches!(e.as_str(), Some("insert" | "update" | "delete")) {
                report.error(
                    format!("{path}.events[{k}]"),
                    format!("unknown rule event {e}; expected insert or update"),
                );
            }
        }
    }
}

/// Reports a CEL expression (a string or `{dialect, source}`) that does not parse or nests too deep.
fn check_cel(report: &mut ValidationReport, path: String, v: Option<&Value>) {
    let source = match v {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(e @ Value::Object(_)) => crate::expr::expression_source(e),
        _ => None,
    };
    if let Some(source) = source
        && let Err(e) = crate::expr::compile(source)
    {
        report.error(path, e);
    }
}

fn is_expression(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Object(e)) => e
            .get("source")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty()),
        _ => false,
    }
}

/// Required lookups that form a cycle mean no record of those objects can ever be created first.
fn check_required_reference_cycles(
    objects: &[Value],
    fields_of: &HashMap<String, Map<String, Value>>,
    report: &mut ValidationReport,
) {
    let mut edges: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, obj) in objects.iter().enumerate() {
        let Some(name) = obj.get("name").and_then(Value::as_str) else {
            continue;
        };
        index.entry(name.to_string()).or_insert(i);
        let Some(fields) = fields_of.get(name) else {
            continue;
        };
        for (fname, f) in fields {
            let required = f.get("required") == Some(&Value::Bool(true));
            let kind = f.get("type").and_then(Value::as_str).unwrap_or("");
            let is_ref = matches!(kind, "lookup" | "master_detail" | "tree");
            let target = f
                .get("reference")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| (kind == "tree").then(|| name.to_string()));
            if is_ref
                && required
                && let Some(target) = target
                && fields_of.contains_key(&target)
            {
                edges
                    .entry(name.to_string())
                    .or_default()
                    .push((fname.clone(), target));
            }
        }
    }
    let mut reported: HashSet<Vec<String>> = HashSet::new();
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()], None::<String>)];
        while let Some((node, trail, first_field)) = stack.pop() {
            for (field, target) in edges.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
                let first_field = first_field.clone().unwrap_or_else(|| field.clone());
                if target == start {
                    let mut key = trail.clone();
                    key.sort();
                    if reported.insert(key) {
                        let cycle = trail
                            .iter()
                            .chain(std::iter::once(start))
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(" → ");
                        let i = index.get(start).copied().unwrap_or(0);
                        report.error(
                            format!("objects[{i}].fields.{first_field}.reference"),
                            format!("required lookups form a cycle ({cycle}): no record of these objects could ever be created first; make one of them optional"),
                        );
                    }
                } else if !trail.contains(target) && trail.len() < 32 {
                    let mut next = trail.clone();
                    next.push(target.clone());
                    stack.push((target.clone(), next, Some(first_field)));
                }
            }
        }
    }
}

fn check_body(path: &str, body: &Value, report: &mut ValidationReport) {
    let Some(body) = body.as_object() else {
        report.error(path, "a body must be an object {language, source, …}");
        return;
    };
    let language = body.get("language").and_then(Value::as_str).unwrap_or("");
    if !BODY_LANGUAGES.contains(&language) {
        report.error(
            format!("{path}.language"),
            format!("unknown body language \"{language}\"; expected js, expression or wasm"),
        );
        return;
    }
    if language == "wasm" {
        if body
            .get("component")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            report.error(
                format!("{path}.component"),
                "a wasm body needs the component as base64",
            );
        }
        match body.get("sha256").and_then(Value::as_str) {
            Some(h) if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) => {
                if let Some(encoded) = body.get("component").and_then(Value::as_str) {
                    use base64::Engine as _;
                    match base64::engine::general_purpose::STANDARD.decode(encoded) {
                        Ok(bytes) => {
                            let actual =
                                hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes));
                            if !actual.eq_ignore_ascii_case(h) {
                                report.error(
                                    format!("{path}.sha256"),
                                    format!(
                                        "does not match the component: its SHA-256 is {actual}"
                                    ),
                                );
                            }
                        }
                        Err(e) => report.error(
                            format!("{path}.component"),
                            format!("is not valid base64: {e}"),
                        ),
                    }
                }
            }
            _ => report.error(
                format!("{path}.sha256"),
                "a wasm body needs the component's SHA-256 (64 hex)",
            ),
        }
    } else if let Some(source) = body
        .get("source")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    {
        if language == "expression"
            && let Err(e) = crate::expr::compile(source)
        {
            report.error(format!("{path}.source"), e);
        }
    } else {
        report.error(
            format!("{path}.source"),
            format!("a {language} body needs its source"),
        );
    }
    if let Some(t) = body.get("timeoutMs")
        && !t
            .as_u64()
            .is_some_and(|t| (1..=MAX_BODY_TIMEOUT_MS).contains(&t))
    {
        report.error(
            format!("{path}.timeoutMs"),
            format!("must be between 1 and {MAX_BODY_TIMEOUT_MS} (got {t})"),
        );
    }
    if let Some(m) = body.get("memoryMb")
        && !m
            .as_u64()
            .is_some_and(|m| (1..=MAX_BODY_MEMORY_MB).contains(&m))
    {
        report.error(
            format!("{path}.memoryMb"),
            format!("must be between 1 and {MAX_BODY_MEMORY_MB} (got {m})"),
        );
    }
}

fn check_hooks(
    root: &Map<String, Value>,
    known_object: &dyn Fn(&str) -> bool,
    report: &mut ValidationReport,
) {
    let has_runtime_module = root.get("runtimeModule").and_then(Value::as_str).is_some();
    for (i, hook) in array(root, "hooks").iter().enumerate() {
        let path = format!("hooks[{i}]");
        if hook.get("name").and_then(Value::as_str).is_none() {
            report.error(format!("{path}.name"), "a hook needs a name");
        }
        let targets: Vec<Value> = match hook.get("object") {
            Some(Value::String(s)) => vec![Value::String(s.clone())],
            Some(Value::Array(items)) => items.clone(),
            _ => {
                report.error(
                    format!("{path}.object"),
                    "a hook needs an object name, a list of names or \"*\"",
                );
                vec![]
            }
        };
        for t in targets {
            match t.as_str() {
                Some("*") => {}
                Some(name) if known_object(name) => {}
                _ => report.error(
                    format!("{path}.object"),
                    format!("object {t} does not exist"),
                ),
            }
        }
        match hook.get("events").and_then(Value::as_array) {
            Some(events) if !events.is_empty() => {
                for (k, e) in events.iter().enumerate() {
                    if !e.as_str().is_some_and(|e| HOOK_EVENTS.contains(&e)) {
                        report.error(
                            format!("{path}.events[{k}]"),
                            format!(
                                "unknown hook event {e}; expected one of {}",
                                HOOK_EVENTS.join(", ")
                            ),
                        );
                    }
                }
            }
            _ => report.error(format!("{path}.events"), "a hook needs at least one event"),
        }
        match (hook.get("body"), hook.get("handler")) {
            (Some(body), _) => check_body(&format!("{path}.body"), body, report),
            (None, Some(_)) if has_runtime_module => {}
            (None, Some(h)) => report.error(
                format!("{path}.handler"),
                format!("handler {h} has no body and the artifact has no runtimeModule: there is no code to run"),
            ),
            (None, None) => report.error(path.clone(), "a hook needs a body or a handler"),
        }
        if let Some(e) = hook.get("onError")
            && !matches!(e.as_str(), Some("abort" | "log"))
        {
            report.error(
                format!("{path}.onError"),
                format!("must be \"abort\" or \"log\", found {e}"),
            );
        }
        if let Some(r) = hook.get("runAs")
            && !matches!(r.as_str(), Some("inherit" | "system"))
        {
            report.error(
                format!("{path}.runAs"),
                format!("must be \"inherit\" or \"system\", found {r}"),
            );
        }
    }
}

fn check_actions(
    root: &Map<String, Value>,
    known_object: &dyn Fn(&str) -> bool,
    report: &mut ValidationReport,
) {
    for (i, action) in array(root, "actions").iter().enumerate() {
        let path = format!("actions[{i}]");
        if action.get("name").and_then(Value::as_str).is_none() {
            report.error(format!("{path}.name"), "an action needs a name");
        }
        if let Some(obj) = action.get("objectName").and_then(Value::as_str)
            && !known_object(obj)
        {
            report.error(
                format!("{path}.objectName"),
                format!("object \"{obj}\" does not exist"),
            );
        }
        if let Some(body) = action.get("body") {
            check_body(&format!("{path}.body"), body, report);
        }
    }
}

fn check_permissions(
    root: &Map<String, Value>,
    fields_of: &HashMap<String, Map<String, Value>>,
    known_object: &dyn Fn(&str) -> bool,
    report: &mut ValidationReport,
) {
    for (i, set) in array(root, "permissions").iter().enumerate() {
        let path = format!("permissions[{i}]");
        if set.get("name").and_then(Value::as_str).is_none() {
            report.error(format!("{path}.name"), "a permission set needs a name");
        }
        if let Some(Value::Object(objects)) = set.get("objects") {
            for name in objects.keys() {
                if name != "*" && !known_object(name) {
                    report.error(
                        format!("{path}.objects.{name}"),
                        format!("object \"{name}\" does not exist"),
                    );
                }
            }
        }
        if let Some(Value::Object(fields)) = set.get("fields") {
            for key in fields.keys() {
                let ok = match key.split_once('.') {
                    Some((o, f)) => {
                        fields_of
                            .get(o)
                            .is_some_and(|fs| fs.contains_key(f) || SYSTEM_FIELDS.contains(&f))
                            || is_system_object(o)
                    }
                    None => false,
                };
                if !ok {
                    report.error(
                        format!("{path}.fields.{key}"),
                        format!("\"{key}\" is not an existing <object>.<field>"),
                    );
                }
            }
        }
    }
}

fn check_seeds(
    root: &Map<String, Value>,
    fields_of: &HashMap<String, Map<String, Value>>,
    report: &mut ValidationReport,
) {
    for (i, seed) in array(root, "data").iter().enumerate() {
        let path = format!("data[{i}]");
        let Some(object) = seed.get("object").and_then(Value::as_str) else {
            report.error(format!("{path}.object"), "a seed needs an object name");
            continue;
        };
        let Some(fields) = fields_of.get(object) else {
            if is_system_object(object) {
                report.warn(
                    format!("{path}.object"),
                    format!("seeds for system object \"{object}\" are not applied by this build"),
                );
            } else {
                report.error(
                    format!("{path}.object"),
                    format!("object \"{object}\" does not exist"),
                );
            }
            continue;
        };
        let has = |f: &str| fields.contains_key(f) || SYSTEM_FIELDS.contains(&f);
        let ext: Vec<Value> = match seed.get("externalId") {
            None => vec![Value::String("name".into())],
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
        };
        for f in &ext {
            if !f.as_str().is_some_and(has) {
                report.error(
                    format!("{path}.externalId"),
                    format!("external id {f} is not a field of \"{object}\""),
                );
            }
        }
        if let Some(Value::Array(envs)) = seed.get("env") {
            for (k, e) in envs.iter().enumerate() {
                if !matches!(e.as_str(), Some("prod" | "dev" | "test")) {
                    report.error(
                        format!("{path}.env[{k}]"),
                        format!("unknown environment {e}; expected prod, dev or test"),
                    );
                }
            }
        }
        for (r, rec) in seed
            .get("records")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            match rec.as_object() {
                Some(rec) => {
                    for key in rec.keys() {
                        if !has(key) {
                            report.error(
                                format!("{path}.records[{r}].{key}"),
                                format!("\"{key}\" is not a field of \"{object}\""),
                            );
                        }
                    }
                }
                None => report.error(
                    format!("{path}.records[{r}]"),
                    "a seed record must be an object",
                ),
            }
        }
    }
}

fn check_functions(root: &Map<String, Value>, report: &mut ValidationReport) {
    match root.get("functions") {
        None | Some(Value::Object(_)) => {}
        Some(Value::Array(items)) => {
            for (i, f) in items.iter().enumerate() {
                if f.get("name").and_then(Value::as_str).is_none() {
                    report.error(
                        format!("functions[{i}].name"),
                        "a function entry needs a name",
                    );
                }
            }
        }
        Some(other) => report.error(
            "functions",
            format!("must be a map or an array, found {}", json_kind(other)),
        ),
    }
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(input, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
