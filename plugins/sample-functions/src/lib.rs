//! A function body for actions: escalates an open record of the calling object, through `data`, as the caller;
//! with a `notify` parameter it then tells that service plugin (`echo`), through `services`, as the caller.

use objectos_sdk::{Caller, Error, Function, Value, data, json, services};

struct Escalate;

impl Function for Escalate {
    fn call(_caller: Caller, input: String) -> Result<String, Error> {
        let input: Value =
            serde_json(&input).map_err(|e| Error::Invalid(format!("input is not JSON: {e}")))?;
        let object = input["object"].as_str().unwrap_or("task").to_string();
        let Some(id) = input["recordId"].as_str() else {
            return Err(Error::Invalid("escalate needs a record id".into()));
        };
        let record = data::get(&object, id)?;
        let from = record
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if from != "open" {
            return Err(Error::Invalid(format!(
                "Only an open record can be escalated (this one is {from})"
            )));
        }
        let priority = input["params"]["priority"].as_str().unwrap_or("high");
        data::update(
            &object,
            id,
            &json!({"status": "escalated", "priority": priority}),
        )?;
        let mut answer = json!({"escalated": true, "id": id, "from": from, "to": "escalated"});
        if let Some(service) = input["params"]["notify"].as_str() {
            answer["notified"] = services::call(
                service,
                "echo",
                &json!({"escalated": id, "priority": priority}),
            )?;
        }
        Ok(answer.to_string())
    }
}

fn serde_json(text: &str) -> Result<Value, objectos_sdk::serde_json::Error> {
    objectos_sdk::serde_json::from_str(text)
}

objectos_sdk::export_function!(Escalate);
