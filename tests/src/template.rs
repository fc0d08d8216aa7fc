//! `template.yaml` read the way CloudFormation reads it, as far as a function's start
//! depends on it: each function's binary, its environment (Globals plus its own
//! variables, every intrinsic resolved), its memory, timeout and events.
//!
//! Resolution is strict: a `!Ref`, `!Sub` or `!GetAtt` this renderer cannot bind is an
//! error, never an empty string, so a new variable that points somewhere new fails the
//! deployment contract test until the test knows what it means.

use serde_norway::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

pub struct Template {
    doc: Value,
}

/// What `!Ref` and `!GetAtt` of the stack's own resources stand for in a test deployment,
/// and the parameter values a deployer would give (those without a default must be here).
#[derive(Default)]
pub struct Bindings {
    pub parameters: HashMap<String, String>,
    /// `!Ref <LogicalId>` of a resource.
    pub resources: HashMap<String, String>,
    /// `!GetAtt <LogicalId>.<Attribute>`.
    pub attributes: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An HTTP API route.
    Http { method: String, path: String },
    /// An EventBridge schedule.
    Schedule { expression: String },
}

#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// The cargo binary `sam build` packages (`BuildProperties.Binary`).
    pub binary: String,
    pub environment: BTreeMap<String, String>,
    pub memory_mb: u64,
    pub timeout: Duration,
    pub events: Vec<Event>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc = serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { doc })
    }

    /// Every `AWS::Serverless::Function`, its environment resolved with `bindings`.
    pub fn functions(&self, bindings: &Bindings) -> Result<Vec<Function>, String> {
        let globals = &self.doc["Globals"]["Function"];
        let mut functions = Vec::new();
        for (id, resource) in self.resources()? {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let properties = &resource["Properties"];
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .ok_or_else(|| format!("{id}: no Metadata.BuildProperties.Binary"))?
                .to_string();
            let mut environment = BTreeMap::new();
            for variables in [&globals["Environment"]["Variables"], &properties["Environment"]["Variables"]] {
                if let Value::Mapping(map) = variables {
                    for (name, value) in map {
                        let name = name.as_str().ok_or_else(|| format!("{id}: a variable name is not a string"))?;
                        let value = self.resolve(value, bindings).map_err(|e| format!("{id}: {name}: {e}"))?;
                        environment.insert(name.to_string(), value);
                    }
                }
            }
            let number = |name: &str| -> Result<u64, String> {
                let value = if properties[name].is_null() { &globals[name] } else { &properties[name] };
                self.resolve(value, bindings)?.parse().map_err(|_| format!("{id}: {name} is not a number"))
            };
            functions.push(Function {
                logical_id: id.clone(),
                binary,
                environment,
                memory_mb: number("MemorySize")?,
                timeout: Duration::from_secs(number("Timeout")?),
                events: self.events(&id, &properties["Events"])?,
            });
        }
        Ok(functions)
    }

    fn resources(&self) -> Result<Vec<(String, &Value)>, String> {
        let Value::Mapping(resources) = &self.doc["Resources"] else {
            return Err("no Resources".into());
        };
        resources.iter().map(|(k, v)| Ok((k.as_str().ok_or("a resource id is not a string")?.to_string(), v))).collect()
    }

    fn events(&self, id: &str, events: &Value) -> Result<Vec<Event>, String> {
        let mut found = Vec::new();
        let Value::Mapping(events) = events else { return Ok(found) };
        for (name, event) in events {
            let props = &event["Properties"];
            let field = |f: &str| {
                props[f].as_str().map(str::to_string).ok_or_else(|| format!("{id}: event {name:?} has no {f}"))
            };
            match event["Type"].as_str() {
                Some("HttpApi") => found.push(Event::Http { method: field("Method")?, path: field("Path")? }),
                Some("ScheduleV2" | "Schedule") => {
                    found.push(Event::Schedule { expression: field("ScheduleExpression")? })
                }
                other => return Err(format!("{id}: event {name:?} of type {other:?} is not understood")),
            }
        }
        Ok(found)
    }

    /// A scalar, or an intrinsic function of one.
    pub fn resolve(&self, value: &Value, bindings: &Bindings) -> Result<String, String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                match (tag.trim_start_matches('!'), &tagged.value) {
                    ("Ref", Value::String(name)) => self.reference(name, bindings),
                    ("Sub", Value::String(text)) => self.substitute(text, bindings),
                    ("GetAtt", Value::String(path)) => self.attribute(path, bindings),
                    (other, arg) => Err(format!("intrinsic !{other} {arg:?} is not supported by the renderer")),
                }
            }
            Value::Mapping(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().ok_or("empty mapping")?;
                match (key.as_str(), arg) {
                    (Some("Ref"), Value::String(name)) => self.reference(name, bindings),
                    (Some("Fn::Sub"), Value::String(text)) => self.substitute(text, bindings),
                    (Some("Fn::GetAtt"), Value::String(path)) => self.attribute(path, bindings),
                    _ => Err(format!("{value:?} is not a supported intrinsic")),
                }
            }
            Value::Null => Err("missing value".into()),
            other => Err(format!("{other:?} is not a scalar")),
        }
    }

    fn reference(&self, name: &str, bindings: &Bindings) -> Result<String, String> {
        if let Some(value) = pseudo_parameter(name) {
            return Ok(value.to_string());
        }
        if let Some(value) = bindings.parameters.get(name) {
            return Ok(value.clone());
        }
        let parameter = &self.doc["Parameters"][name];
        if !parameter.is_null() {
            return match &parameter["Default"] {
                Value::Null => Err(format!("parameter {name} has no default and the deployment gives none")),
                default => self.resolve(default, bindings),
            };
        }
        bindings
            .resources
            .get(name)
            .cloned()
            .ok_or_else(|| format!("!Ref {name}: no such parameter, or unbound resource"))
    }

    fn attribute(&self, path: &str, bindings: &Bindings) -> Result<String, String> {
        bindings.attributes.get(path).cloned().ok_or_else(|| format!("!GetAtt {path} is not bound"))
    }

    /// `${Name}` is a `!Ref`, `${Name.Attr}` a `!GetAtt`, `${!Literal}` the literal `${Literal}`.
    fn substitute(&self, text: &str, bindings: &Bindings) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unterminated ${{ in {text:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if name.contains('.') && pseudo_parameter(name).is_none() {
                out.push_str(&self.attribute(name, bindings)?);
            } else {
                out.push_str(&self.reference(name, bindings)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn pseudo_parameter(name: &str) -> Option<&'static str> {
    match name {
        "AWS::Region" => Some("us-east-1"),
        "AWS::AccountId" => Some("123456789012"),
        "AWS::Partition" => Some("aws"),
        "AWS::URLSuffix" => Some("amazonaws.com"),
        "AWS::StackName" => Some("revocable-jwt"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> Template {
        Template { doc: serde_norway::from_str(text).unwrap() }
    }

    #[test]
    fn intrinsics_resolve_or_fail_loudly() {
        let t = template(
            "Parameters:\n  P: {Type: String, Default: dflt}\n  Q: {Type: String}\n\
             Resources: {}\n",
        );
        let mut b = Bindings::default();
        b.resources.insert("Secret".into(), "arn:secret".into());
        let sub: Value = serde_norway::from_str("!Sub \"x:${Secret}:${P}:${AWS::Region}:${!Lit}\"").unwrap();
        assert_eq!(t.resolve(&sub, &b).unwrap(), "x:arn:secret:dflt:us-east-1:${Lit}");
        let q: Value = serde_norway::from_str("!Ref Q").unwrap();
        assert!(t.resolve(&q, &b).unwrap_err().contains("no default"));
        b.parameters.insert("Q".into(), "given".into());
        assert_eq!(t.resolve(&q, &b).unwrap(), "given");
        let unknown: Value = serde_norway::from_str("!Ref Nope").unwrap();
        assert!(t.resolve(&unknown, &b).is_err());
        let join: Value = serde_norway::from_str("!Join [',', [a, b]]").unwrap();
        assert!(t.resolve(&join, &b).is_err(), "an unsupported intrinsic is an error, not a guess");
    }
}
