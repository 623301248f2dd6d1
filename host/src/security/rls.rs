//! Row-level security predicates: the CEL of a policy's `using` / `check` (PROTOCOL §5), lowered at artifact
//! load to a small predicate over the object's stored fields and the caller (`current_user.*`). `using` becomes
//! a WHERE clause (so pagination, `total` and indexes stay right); `check` is evaluated on the record written.
//! What does not lower is refused at load with the policy's path: nothing is ever filtered in memory.

use super::principal::Principal;
use crate::data::catalog::ObjectSchema;
use crate::data::filter::{Condition, Filter, Op, Operand};
use cel_parser::Expression;
use cel_parser::ast::{CallExpr, Expr, operators};
use cel_parser::reference::Val;
use serde_json::Value;

/// A lowered predicate. Comparisons are `field <op> operand`, with the field on the left.
#[derive(Clone, Debug, PartialEq)]
pub enum RowPredicate {
    And(Vec<RowPredicate>),
    Or(Vec<RowPredicate>),
    Not(Box<RowPredicate>),
    Compare {
        field: String,
        op: Op,
        operand: Term,
    },
    In {
        field: String,
        values: Vec<Term>,
    },
    Const(bool),
}

/// The right-hand side of a comparison: a literal or an attribute of the caller.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Literal(Value),
    User(UserAttr),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UserAttr {
    Id,
    Email,
    OrganizationId,
}

/// What a principal's `current_user` resolves to when a predicate is applied.
#[derive(Clone, Debug, Default)]
pub struct CurrentUser {
    pub id: Option<String>,
    pub email: Option<String>,
    pub organization_id: Option<String>,
}

impl CurrentUser {
    pub fn of(principal: &Principal) -> CurrentUser {
        CurrentUser {
            id: principal.user_id.clone(),
            email: principal.email.clone(),
            organization_id: principal.organization_id.clone(),
        }
    }

    fn get(&self, attr: UserAttr) -> Value {
        let v = match attr {
            UserAttr::Id => &self.id,
            UserAttr::Email => &self.email,
            UserAttr::OrganizationId => &self.organization_id,
        };
        v.clone().map(Value::String).unwrap_or(Value::Null)
    }
}

/// Lowers a policy expression for `schema`. The error says what could not be lowered.
pub fn lower(source: &str, schema: &ObjectSchema) -> Result<RowPredicate, String> {
    let ast = crate::expr::parse_ast(source)?;
    crate::expr::check_depth(&ast)?;
    lower_expr(&ast, schema)
}

fn lower_expr(e: &Expression, schema: &ObjectSchema) -> Result<RowPredicate, String> {
    match &e.expr {
        Expr::Literal(Val::Boolean(b)) => Ok(RowPredicate::Const(*b)),
        Expr::Call(call) => lower_call(call, schema),
        // A bare boolean field: `active` means `active == true`.
        Expr::Ident(_) | Expr::Select(_) => Ok(RowPredicate::Compare {
            field: field_of(e, schema)?.ok_or("only a boolean field can stand alone")?,
            op: Op::Eq,
            operand: Term::Literal(Value::Bool(true)),
        }),
        _ => Err("only comparisons of fields with literals or current_user, joined by &&, || and !, can become a row filter".into()),
    }
}

fn lower_call(call: &CallExpr, schema: &ObjectSchema) -> Result<RowPredicate, String> {
    let args = &call.args;
    match call.func_name.as_str() {
        operators::LOGICAL_AND | operators::LOGICAL_OR => {
            let mut parts = Vec::with_capacity(args.len());
            for a in args {
                parts.push(lower_expr(a, schema)?);
            }
            Ok(if call.func_name == operators::LOGICAL_AND {
                RowPredicate::And(parts)
            } else {
                RowPredicate::Or(parts)
            })
        }
        operators::LOGICAL_NOT => match args.as_slice() {
            [a] => Ok(RowPredicate::Not(Box::new(lower_expr(a, schema)?))),
            _ => Err("! takes one operand".into()),
        },
        operators::IN => match args.as_slice() {
            [lhs, list] => {
                let field = field_of(lhs, schema)?.ok_or("`in` needs a field on its left")?;
                let Expr::List(items) = &list.expr else {
                    return Err("`in` needs a list literal on its right".into());
                };
                let values = items
                    .elements
                    .iter()
                    .map(term_of)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(RowPredicate::In { field, values })
            }
            _ => Err("`in` takes two operands".into()),
        },
        name => {
            let op = match name {
                operators::EQUALS => Op::Eq,
                operators::NOT_EQUALS => Op::Ne,
                operators::GREATER => Op::Gt,
                operators::GREATER_EQUALS => Op::Gte,
                operators::LESS => Op::Lt,
                operators::LESS_EQUALS => Op::Lte,
                other => return Err(format!("`{other}` cannot become a row filter")),
            };
            let [lhs, rhs] = args.as_slice() else {
                return Err(format!("`{name}` takes two operands"));
            };
            // Either side may hold the field: `owner_id == current_user.id` or `current_user.id == owner_id`.
            if let Some(field) = field_of(lhs, schema)? {
                return Ok(RowPredicate::Compare {
                    field,
                    op,
                    operand: term_of(rhs)?,
                });
            }
            if let Some(field) = field_of(rhs, schema)? {
                let flipped = match op {
                    Op::Gt => Op::Lt,
                    Op::Gte => Op::Lte,
                    Op::Lt => Op::Gt,
                    Op::Lte => Op::Gte,
                    other => other,
                };
                return Ok(RowPredicate::Compare {
                    field,
                    op: flipped,
                    operand: term_of(lhs)?,
                });
            }
            Err("a comparison needs a field of the object on one side".into())
        }
    }
}

/// `owner_id` or `record.owner_id` naming a stored field of the object; `None` when `e` is not a field
/// reference (it may be a term); an error for a name that is not a field.
fn field_of(e: &Expression, schema: &ObjectSchema) -> Result<Option<String>, String> {
    let name = match &e.expr {
        Expr::Ident(name) if name != "current_user" && name != "user" => name.clone(),
        Expr::Select(sel) => match &sel.operand.expr {
            Expr::Ident(root) if root == "record" => sel.field.clone(),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    match schema.field(&name) {
        Some(f) if f.storage.is_some() => Ok(Some(name)),
        Some(_) => Err(format!(
            "`{name}` is not stored (a formula or summary), so it cannot filter rows"
        )),
        None => Err(format!("`{name}` is not a field of {}", schema.name)),
    }
}

fn term_of(e: &Expression) -> Result<Term, String> {
    match &e.expr {
        Expr::Literal(v) => Ok(Term::Literal(match v {
            Val::String(s) => Value::String(s.clone()),
            Val::Boolean(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::UInt(u) => Value::from(*u),
            Val::Double(d) => crate::data::scalar::number_value(*d),
            Val::Null => Value::Null,
            Val::Bytes(_) => return Err("bytes cannot be compared with a field".into()),
        })),
        Expr::Select(sel) => match &sel.operand.expr {
            Expr::Ident(root) if root == "current_user" || root == "user" => {
                Ok(Term::User(match sel.field.as_str() {
                    "id" => UserAttr::Id,
                    "email" => UserAttr::Email,
                    "organizationId" | "organization_id" => UserAttr::OrganizationId,
                    other => {
                        return Err(format!(
                            "current_user.{other} is not known here (id, email, organizationId)"
                        ));
                    }
                }))
            }
            _ => Err("only current_user.* can be compared with a field".into()),
        },
        _ => Err("only literals and current_user.* can be compared with a field".into()),
    }
}

impl RowPredicate {
    /// The predicate as a query filter for one caller.
    pub fn to_filter(&self, user: &CurrentUser) -> Filter {
        match self {
            RowPredicate::And(parts) => {
                Filter::And(parts.iter().map(|p| p.to_filter(user)).collect())
            }
            RowPredicate::Or(parts) => {
                Filter::Or(parts.iter().map(|p| p.to_filter(user)).collect())
            }
            RowPredicate::Not(p) => Filter::Not(Box::new(p.to_filter(user))),
            RowPredicate::Const(b) => {
                // `id IS NOT NULL` is always true; its negation never.
                let always = Filter::Cond(Condition {
                    field: "id".into(),
                    op: Op::Null(false),
                    operand: Operand::None,
                });
                if *b {
                    always
                } else {
                    Filter::Not(Box::new(always))
                }
            }
            RowPredicate::Compare { field, op, operand } => {
                let value = operand.resolve(user);
                Filter::Cond(match (op, value.is_null()) {
                    // SQL `= NULL` is never true: CEL's `== null` means IS NULL.
                    (Op::Eq, true) => Condition {
                        field: field.clone(),
                        op: Op::Null(true),
                        operand: Operand::None,
                    },
                    (Op::Ne, true) => Condition {
                        field: field.clone(),
                        op: Op::Null(false),
                        operand: Operand::None,
                    },
                    _ => Condition {
                        field: field.clone(),
                        op: *op,
                        operand: Operand::Value(value),
                    },
                })
            }
            RowPredicate::In { field, values } => Filter::Cond(Condition {
                field: field.clone(),
                op: Op::In,
                operand: Operand::List(values.iter().map(|t| t.resolve(user)).collect()),
            }),
        }
    }

    /// Whether a record satisfies the predicate (a policy's `check` on the record being written).
    pub fn holds(&self, record: &serde_json::Map<String, Value>, user: &CurrentUser) -> bool {
        match self {
            RowPredicate::And(parts) => parts.iter().all(|p| p.holds(record, user)),
            RowPredicate::Or(parts) => parts.iter().any(|p| p.holds(record, user)),
            RowPredicate::Not(p) => !p.holds(record, user),
            RowPredicate::Const(b) => *b,
            RowPredicate::Compare { field, op, operand } => {
                let left = record.get(field).unwrap_or(&Value::Null);
                let right = operand.resolve(user);
                compare(left, op, &right)
            }
            RowPredicate::In { field, values } => {
                let left = record.get(field).unwrap_or(&Value::Null);
                values
                    .iter()
                    .any(|t| compare(left, &Op::Eq, &t.resolve(user)))
            }
        }
    }
}

impl Term {
    fn resolve(&self, user: &CurrentUser) -> Value {
        match self {
            Term::Literal(v) => v.clone(),
            Term::User(attr) => user.get(*attr),
        }
    }
}

fn compare(left: &Value, op: &Op, right: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering = match (left, right) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match op {
        Op::Eq => ordering == Some(Ordering::Equal),
        Op::Ne => ordering != Some(Ordering::Equal),
        Op::Gt => ordering == Some(Ordering::Greater),
        Op::Gte => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
        Op::Lt => ordering == Some(Ordering::Less),
        Op::Lte => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        _ => false,
    }
}
