//! The catalog: objects and fields compiled from a validated artifact into what the data engine needs.
//! Table and column names come only from here, never from a request.

use crate::artifact::Definition;
use crate::artifact::fields::{
    DeleteBehavior, FieldDef, FieldType, StorageKind, Uniqueness, title_case,
};
use crate::data::scalar::AutonumberFormat;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct FieldSchema {
    pub name: String,
    pub label: String,
    pub ftype: FieldType,
    /// `None` for virtual (formula, summary) fields, which have no column.
    pub storage: Option<StorageKind>,
    pub required: bool,
    pub unique: Uniqueness,
    pub multiple: bool,
    pub searchable: bool,
    /// System columns are stamped by the runtime and ignored when a caller sends them.
    pub system: bool,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Fraction digits kept for numbers (currency defaults to 2).
    pub scale: Option<u32>,
    pub options: Vec<String>,
    pub reference: Option<String>,
    pub delete_behavior: DeleteBehavior,
    pub default_value: Option<Value>,
    pub autonumber: Option<AutonumberFormat>,
    pub dimensions: Option<usize>,
    /// `requiredWhen`, `readonlyWhen` and option `visibleWhen` (CEL), when the field declares any.
    pub predicates: Option<Arc<FieldPredicates>>,
}

/// A field's conditional rules, compiled: each reads `record` (and `current_user`).
#[derive(Debug, Default)]
pub struct FieldPredicates {
    pub required_when: Option<crate::expr::Compiled>,
    pub readonly_when: Option<crate::expr::Compiled>,
    /// Options that are offered only when their condition holds.
    pub option_visible_when: Vec<(String, crate::expr::Compiled)>,
}

impl FieldPredicates {
    fn of(object: &str, name: &str, def: &FieldDef) -> Option<Arc<FieldPredicates>> {
        // A predicate that does not compile is logged and fails closed: the option is never offered, the
        // field is always read-only (a `requiredWhen` that cannot be read never requires).
        let compile =
            |what: &str, v: Option<&Value>, closed: &str| -> Option<crate::expr::Compiled> {
                let source = match v? {
                    Value::String(s) => s.as_str(),
                    other => crate::expr::expression_source(other)?,
                };
                crate::expr::compile(source)
                    .inspect_err(|e| {
                        tracing::error!(
                            object,
                            field = name,
                            "{what} does not compile ({e}); taken as {closed}"
                        )
                    })
                    .or_else(|_| crate::expr::compile(closed))
                    .ok()
            };
        let p = FieldPredicates {
            required_when: compile("requiredWhen", def.extra.get("requiredWhen"), "false"),
            readonly_when: compile("readonlyWhen", def.extra.get("readonlyWhen"), "true"),
            option_visible_when: def
                .options
                .iter()
                .filter_map(|o| {
                    Some((
                        o.value.clone(),
                        compile("visibleWhen", o.visible_when.as_ref(), "false")?,
                    ))
                })
                .collect(),
        };
        (p.required_when.is_some()
            || p.readonly_when.is_some()
            || !p.option_visible_when.is_empty())
        .then(|| Arc::new(p))
    }
}

impl FieldSchema {
    pub fn column(&self) -> Option<&str> {
        self.storage.map(|_| self.name.as_str())
    }

    pub fn is_sortable(&self) -> bool {
        matches!(
            self.storage,
            Some(
                StorageKind::Text
                    | StorageKind::Number(_)
                    | StorageKind::Boolean
                    | StorageKind::Date
                    | StorageKind::DateTime
            )
        )
    }

    fn system(
        name: &str,
        label: &str,
        ftype: FieldType,
        storage: StorageKind,
        reference: Option<&str>,
    ) -> FieldSchema {
        FieldSchema {
            name: name.to_string(),
            label: label.to_string(),
            ftype,
            storage: Some(storage),
            required: false,
            unique: Uniqueness::None,
            multiple: false,
            searchable: false,
            system: true,
            max_length: None,
            min_length: None,
            min: None,
            max: None,
            scale: None,
            options: vec![],
            reference: reference.map(str::to_string),
            delete_behavior: DeleteBehavior::SetNull,
            default_value: None,
            autonumber: None,
            dimensions: None,
            predicates: None,
        }
    }

    fn from_def(object: &str, name: &str, def: &FieldDef) -> Option<FieldSchema> {
        let ftype = FieldType::parse(&def.type_name)?;
        let scale = match ftype {
            FieldType::Currency => Some(
                def.scale
                    .or_else(|| {
                        def.currency_config
                            .as_ref()
                            .and_then(|c| c.get("precision"))
                            .and_then(Value::as_i64)
                    })
                    .unwrap_or(2) as u32,
            ),
            FieldType::Number | FieldType::Percent => def.scale.map(|s| s as u32),
            _ => None,
        };
        let storage = storage_of(ftype, def.multiple, scale);
        let reference = match ftype {
            FieldType::Tree => Some(def.reference.clone().unwrap_or_else(|| object.to_string())),
            FieldType::User => Some(
                def.reference
                    .clone()
                    .unwrap_or_else(|| "sys_user".to_string()),
            ),
            _ => def.reference.clone(),
        };
        let mut default_value = def.default_value.clone();
        if default_value.is_none() && ftype.has_options() {
            let defaults: Vec<&str> = def
                .options
                .iter()
                .filter(|o| o.default)
                .map(|o| o.value.as_str())
                .collect();
            if !defaults.is_empty() {
                default_value = Some(if ftype.is_list() || def.multiple {
                    Value::from(defaults)
                } else {
                    Value::from(defaults[0])
                });
            }
        }
        let autonumber = (ftype == FieldType::Autonumber)
            .then(|| {
                AutonumberFormat::parse(def.autonumber_format.as_deref().unwrap_or("{0000}")).ok()
            })
            .flatten();
        Some(FieldSchema {
            name: name.to_string(),
            label: def.display_label(name),
            ftype,
            storage,
            // A master-detail child cannot exist without its master.
            required: def.required || ftype == FieldType::MasterDetail,
            unique: Uniqueness::from_json(def.unique.as_ref()).unwrap_or(Uniqueness::None),
            multiple: def.multiple,
            searchable: def.searchable,
            system: false,
            max_length: def.max_length.map(|v| v.max(0) as usize),
            min_length: def.min_length.map(|v| v.max(0) as usize),
            min: def.min,
            max: def.max,
            scale,
            options: def.options.iter().map(|o| o.value.clone()).collect(),
            reference,
            delete_behavior: def
                .delete_behavior
                .as_deref()
                .and_then(DeleteBehavior::parse)
                .unwrap_or(DeleteBehavior::SetNull),
            default_value,
            autonumber,
            dimensions: def.dimensions.map(|d| d.max(0) as usize),
            predicates: FieldPredicates::of(object, name, def),
        })
    }
}

/// The column kind of a field type.
pub fn storage_of(ftype: FieldType, multiple: bool, scale: Option<u32>) -> Option<StorageKind> {
    use FieldType::*;
    Some(match ftype {
        Formula | Summary => return None,
        Number | Currency | Percent => StorageKind::Number(scale),
        Rating | Slider | Progress => StorageKind::Number(None),
        Boolean | Toggle => StorageKind::Boolean,
        Date => StorageKind::Date,
        Datetime => StorageKind::DateTime,
        Select | Radio | Lookup | MasterDetail | Tree | User if multiple => StorageKind::Json,
        Multiselect | Checkboxes | Tags | Json | Composite | Repeater | Record | Location
        | Address | Vector | Image | File | Avatar | Video | Audio => StorageKind::Json,
        _ => StorageKind::Text,
    })
}

#[derive(Clone, Debug)]
pub struct IndexSpec {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Clone, Debug)]
pub struct ObjectSchema {
    pub name: String,
    pub label: String,
    /// System fields first, then the declared fields in declaration order.
    pub fields: Vec<FieldSchema>,
    index: HashMap<String, usize>,
    pub has_owner: bool,
    pub indexes: Vec<IndexSpec>,
    /// Fields a `search` matches.
    pub search_fields: Vec<String>,
    /// Runtime-provided objects (users, sessions, …): never served by the data routes.
    pub internal: bool,
    /// `private | public_read | public_read_write | controlled_by_parent` (default `public_read_write`).
    pub sharing_model: Option<String>,
}

impl ObjectSchema {
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.index.get(name).map(|&i| &self.fields[i])
    }

    /// Fields that have a column.
    pub fn stored_fields(&self) -> impl Iterator<Item = &FieldSchema> {
        self.fields.iter().filter(|f| f.storage.is_some())
    }

    pub fn table(&self) -> &str {
        &self.name
    }

    fn build(
        name: &str,
        label: Option<&str>,
        ownership: Option<&str>,
        fields: &indexmap::IndexMap<String, FieldDef>,
        indexes: &[crate::artifact::model::IndexDef],
        searchable: Option<&Vec<String>>,
    ) -> ObjectSchema {
        let has_owner = !matches!(ownership, Some("org" | "none"));
        use FieldType::{Datetime, Lookup, Text, User};
        // The real server's key order: id, created_at, updated_at, organization_id, created_by, updated_by.
        let mut all = vec![
            FieldSchema::system("id", "ID", Text, StorageKind::Text, None),
            FieldSchema::system(
                "created_at",
                "Created At",
                Datetime,
                StorageKind::DateTime,
                None,
            ),
            FieldSchema::system(
                "updated_at",
                "Updated At",
                Datetime,
                StorageKind::DateTime,
                None,
            ),
            FieldSchema::system(
                "organization_id",
                "Organization",
                Lookup,
                StorageKind::Text,
                Some("sys_organization"),
            ),
            FieldSchema::system(
                "created_by",
                "Created By",
                User,
                StorageKind::Text,
                Some("sys_user"),
            ),
            FieldSchema::system(
                "updated_by",
                "Updated By",
                User,
                StorageKind::Text,
                Some("sys_user"),
            ),
        ];
        if has_owner {
            all.push(FieldSchema::system(
                "owner_id",
                "Owner",
                FieldType::User,
                StorageKind::Text,
                Some("sys_user"),
            ));
            all.push(FieldSchema::system(
                "owning_business_unit_id",
                "Owning Business Unit",
                FieldType::Lookup,
                StorageKind::Text,
                Some("sys_business_unit"),
            ));
        }
        for (fname, def) in fields {
            if let Some(existing) = all.iter_mut().find(|f| f.name == *fname) {
                // A declared system field (e.g. `owner_id` as a lookup to sys_user) keeps the system column.
                existing.label = def.display_label(fname);
                continue;
            }
            if let Some(f) = FieldSchema::from_def(name, fname, def) {
                all.push(f);
            }
        }
        let index = all
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let mut specs = Vec::new();
        for f in &all {
            match f.unique {
                Uniqueness::Global if f.storage.is_some() => specs.push(IndexSpec {
                    name: format!("ux_{name}__{}", f.name),
                    columns: vec![f.name.clone()],
                    unique: true,
                }),
                Uniqueness::PerOrganization if f.storage.is_some() => specs.push(IndexSpec {
                    name: format!("ux_{name}__{}", f.name),
                    columns: vec!["organization_id".into(), f.name.clone()],
                    unique: true,
                }),
                _ => {}
            }
            if f.ftype.is_reference()
                && f.storage == Some(StorageKind::Text)
                && !f.system
                && f.unique == Uniqueness::None
            {
                specs.push(IndexSpec {
                    name: format!("ix_{name}__{}", f.name),
                    columns: vec![f.name.clone()],
                    unique: false,
                });
            }
        }
        // Serves the tenant filter and the default order (created_at, id) of every list: a page is an index range.
        specs.push(IndexSpec {
            name: format!("ix_{name}__org_created"),
            columns: vec!["organization_id".into(), "created_at".into(), "id".into()],
            unique: false,
        });
        for (i, idx) in indexes.iter().enumerate() {
            let unique = !matches!(
                Uniqueness::from_json(idx.unique.as_ref()),
                Some(Uniqueness::None) | None
            );
            let mut columns = idx.fields.clone();
            if Uniqueness::from_json(idx.unique.as_ref()) == Some(Uniqueness::PerOrganization) {
                columns.insert(0, "organization_id".into());
            }
            let idx_name = match &idx.name {
                Some(n) if crate::artifact::fields::is_valid_identifier(n) => {
                    format!("{}_{}", if unique { "ux" } else { "ix" }, n)
                }
                _ => format!("{}_{name}__{}", if unique { "ux" } else { "ix" }, i),
            };
            specs.push(IndexSpec {
                name: idx_name,
                columns,
                unique,
            });
        }
        let search_fields = match searchable {
            Some(list) => list.clone(),
            None => {
                let declared: Vec<String> = all
                    .iter()
                    .filter(|f| f.searchable && f.storage.is_some())
                    .map(|f| f.name.clone())
                    .collect();
                if declared.is_empty() {
                    all.iter()
                        .filter(|f| {
                            !f.system
                                && f.ftype.is_textual()
                                && f.storage == Some(StorageKind::Text)
                        })
                        .map(|f| f.name.clone())
                        .collect()
                } else {
                    declared
                }
            }
        };
        ObjectSchema {
            name: name.to_string(),
            label: label
                .map(str::to_string)
                .unwrap_or_else(|| title_case(name)),
            fields: all,
            index,
            has_owner,
            indexes: specs,
            search_fields,
            internal: false,
            sharing_model: None,
        }
    }
}

/// A field of another object that points at an object, with what a delete of the target does to it.
#[derive(Clone, Debug)]
pub struct InboundReference {
    pub object: String,
    pub field: String,
    pub behavior: DeleteBehavior,
    /// Stored as a JSON list of ids (a `multiple` lookup).
    pub multiple: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub objects: BTreeMap<String, Arc<ObjectSchema>>,
    inbound: HashMap<String, Vec<InboundReference>>,
}

impl Catalog {
    pub fn from_definition(def: &Definition) -> Catalog {
        Self::with_internal(def, &[])
    }

    /// The artifact's objects plus runtime-provided ones (marked `internal`).
    pub fn with_internal(
        def: &Definition,
        internal: &[crate::artifact::model::ObjectDef],
    ) -> Catalog {
        let mut objects = BTreeMap::new();
        let all = def
            .objects
            .iter()
            .map(|o| (o, false))
            .chain(internal.iter().map(|o| (o, true)));
        for (o, is_internal) in all {
            let mut schema = ObjectSchema::build(
                &o.name,
                o.label.as_deref(),
                o.ownership.as_deref(),
                &o.fields,
                &o.indexes,
                o.searchable_fields.as_ref(),
            );
            schema.internal = is_internal;
            schema.sharing_model = o.sharing_model.clone();
            objects.insert(o.name.clone(), Arc::new(schema));
        }
        let mut inbound: HashMap<String, Vec<InboundReference>> = HashMap::new();
        for schema in objects.values() {
            for f in &schema.fields {
                if f.system || !f.ftype.is_reference() {
                    continue;
                }
                if let Some(target) = &f.reference {
                    inbound
                        .entry(target.clone())
                        .or_default()
                        .push(InboundReference {
                            object: schema.name.clone(),
                            field: f.name.clone(),
                            behavior: f.delete_behavior,
                            multiple: f.storage == Some(StorageKind::Json),
                        });
                }
            }
        }
        Catalog { objects, inbound }
    }

    /// Fields of an internal object a lookup may show when expanded (never secrets).
    pub const INTERNAL_EXPANDABLE: &'static [&'static str] =
        &["id", "name", "email", "image", "slug"];

    /// Objects of the artifact (what the data routes and metadata serve).
    pub fn public_objects(&self) -> impl Iterator<Item = &Arc<ObjectSchema>> {
        self.objects.values().filter(|o| !o.internal)
    }

    pub fn object(&self, name: &str) -> Option<&Arc<ObjectSchema>> {
        self.objects.get(name)
    }

    pub fn inbound_references(&self, target: &str) -> &[InboundReference] {
        self.inbound.get(target).map(Vec::as_slice).unwrap_or(&[])
    }
}
