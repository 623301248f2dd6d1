//! A scenario (tests/differential/<app>/scenario.json) and the player that sends its calls to one server,
//! keeping the tokens and captured values the later calls refer to. The same player records the real server
//! and replays objectos, so both see exactly the same requests.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// One call of a scenario.
pub struct Call {
    pub label: String,
    /// `None`: anonymous; `Some(name)`: the token kept under that name (anonymous until there is one).
    pub caller: Option<String>,
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    pub raw: Option<String>,
    pub headers: Vec<(String, String)>,
    pub token: Option<String>,
    pub capture: Vec<(String, String)>,
    pub ignore: Vec<String>,
}

pub struct Scenario {
    pub calls: Vec<Call>,
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("scenario.json: {e}"))?;
        let default_caller = match root.get("as") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(format!("\"as\" must be a string or null, not {other}")),
        };
        let calls = root
            .get("calls")
            .and_then(Value::as_array)
            .ok_or("scenario.json has no \"calls\" array")?;
        let mut out = Vec::new();
        let mut labels = std::collections::HashSet::new();
        for (i, c) in calls.iter().enumerate() {
            let call =
                parse_call(c, &default_caller).map_err(|e| format!("call {}: {e}", i + 1))?;
            if !labels.insert(call.label.clone()) {
                return Err(format!(
                    "call {}: label {} is used twice",
                    i + 1,
                    call.label
                ));
            }
            out.push(call);
        }
        Ok(Scenario { calls: out })
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_call(c: &Value, default_caller: &Option<String>) -> Result<Call, String> {
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let label = text("label").ok_or("no label")?;
    let method = text("method").ok_or_else(|| format!("{label}: no method"))?;
    let path = text("path").ok_or_else(|| format!("{label}: no path"))?;
    let caller = match c.get("as") {
        None => default_caller.clone(),
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "{label}: \"as\" must be a string or null, not {other}"
            ));
        }
    };
    Ok(Call {
        caller,
        method,
        path,
        body: c.get("body").cloned(),
        raw: text("raw"),
        headers: pairs(c.get("headers")),
        token: text("token"),
        capture: pairs(c.get("capture")),
        ignore: strings(c.get("ignore")),
        label,
    })
}

/// What a server answered.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Sends a scenario's calls to one server.
pub struct Player {
    base: String,
    http: reqwest::Client,
    tokens: HashMap<String, String>,
    pub vars: HashMap<String, Value>,
}

impl Player {
    pub fn new(base: &str) -> Player {
        Player {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            tokens: HashMap::new(),
            vars: HashMap::new(),
        }
    }

    /// The path with `${name}` replaced by captured values.
    pub fn path_of(&self, call: &Call) -> String {
        substitute_text(&call.path, &self.vars)
    }

    /// The JSON body with `${name}` replaced by captured values.
    pub fn body_of(&self, call: &Call) -> Option<Value> {
        call.body.as_ref().map(|b| substitute(b, &self.vars))
    }

    pub async fn play(&mut self, call: &Call) -> Answer {
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).expect("method");
        let url = format!("{}{}", self.base, self.path_of(call));
        let mut req = self.http.request(method, url);
        if let Some(t) = call.caller.as_ref().and_then(|c| self.tokens.get(c)) {
            req = req.bearer_auth(t);
        }
        for (k, v) in &call.headers {
            req = req.header(k, substitute_text(v, &self.vars));
        }
        if let Some(raw) = &call.raw {
            req = req
                .header("content-type", "application/json")
                .body(raw.clone());
        } else if let Some(body) = self.body_of(call) {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let header_token = resp
            .headers()
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let token = header_token.or_else(|| {
            body.get("token")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        if let (Some(name), Some(t)) = (&call.token, &token) {
            self.tokens.insert(name.clone(), t.clone());
        }
        for (name, path) in &call.capture {
            if let Some(v) = at_path(&body, path) {
                self.vars.insert(name.clone(), v.clone());
            }
        }
        Answer { status, body }
    }
}

/// The value at a path like `record.id` or `records[0].id`.
pub fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let n: usize = idx.trim_end_matches(']').parse().ok()?;
            cur = cur.get(n)?;
        }
    }
    Some(cur)
}

fn substitute_text(text: &str, vars: &HashMap<String, Value>) -> String {
    let mut out = text.to_string();
    for (name, v) in vars {
        let needle = format!("${{{name}}}");
        if out.contains(&needle) {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out = out.replace(&needle, &s);
        }
    }
    out
}

fn substitute(v: &Value, vars: &HashMap<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
                && let Some(val) = vars.get(name)
            {
                return val.clone();
            }
            Value::String(substitute_text(s, vars))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute(x, vars)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}
