//! `template.yaml` read the way CloudFormation reads it, as far as a function's start
//! depends on it: each function's binary, its environment (Globals plus its own
//! variables, every intrinsic resolved), its memory, timeout and events, and its IAM
//! policy statements (for the check in `crate::iam`).
//!
//! Resolution is strict: a `!Ref`, `!Sub` or `!GetAtt` this renderer cannot bind is an
//! error, never an empty string, so a new variable that points somewhere new fails the
//! deployment contract test until the test knows what it means.

use crate::iam::{Condition, KeySchema, Statement};
use serde_norway::{Mapping, Value};
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
    /// An HTTP API route; `authorizer` names the Lambda authorizer API Gateway runs first.
    Http { method: String, path: String, authorizer: Option<String> },
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
    /// The statements of its inline `Policies`, intrinsics resolved: all it may do in AWS.
    pub statements: Vec<Statement>,
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
                statements: self.statements(&id, properties, bindings)?,
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

    /// The partition keys of the `AWS::DynamoDB::Table` `logical_id` and of its indexes.
    pub fn key_schema(&self, logical_id: &str) -> Result<KeySchema, String> {
        let properties = &self.doc["Resources"][logical_id]["Properties"];
        if self.doc["Resources"][logical_id]["Type"].as_str() != Some("AWS::DynamoDB::Table") {
            return Err(format!("{logical_id} is not an AWS::DynamoDB::Table"));
        }
        let mut indexes = BTreeMap::new();
        for kind in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
            for index in properties[kind].as_sequence().map(Vec::as_slice).unwrap_or_default() {
                let name =
                    index["IndexName"].as_str().ok_or_else(|| format!("{logical_id}: an index without a name"))?;
                let key = hash_key(&index["KeySchema"]).map_err(|e| format!("{logical_id}: index {name}: {e}"))?;
                indexes.insert(name.to_string(), key);
            }
        }
        let partition_key = hash_key(&properties["KeySchema"]).map_err(|e| format!("{logical_id}: {e}"))?;
        Ok(KeySchema { partition_key, indexes })
    }

    /// A function's inline policy statements. Anything else that grants rights (a role of
    /// its own, a managed policy, a SAM policy template) is an error: the IAM check would
    /// otherwise judge the function by a part of what it may do.
    fn statements(&self, id: &str, properties: &Value, bindings: &Bindings) -> Result<Vec<Statement>, String> {
        let unread =
            |what: &str| format!("{id}: {what} is not understood by the IAM check; only inline Statements are");
        if !properties["Role"].is_null() {
            return Err(unread("a Role of its own"));
        }
        if !self.doc["Globals"]["Function"]["Policies"].is_null() {
            return Err(unread("Globals Policies"));
        }
        let policies = match &properties["Policies"] {
            Value::Null => return Ok(Vec::new()),
            Value::Sequence(policies) => policies,
            other => return Err(unread(&format!("Policies {other:?} (not a list)"))),
        };
        let mut statements = Vec::new();
        for (i, policy) in policies.iter().enumerate() {
            let document = match policy {
                Value::Mapping(document) if !document.get("Statement").unwrap_or(&Value::Null).is_null() => document,
                // A managed policy's name or ARN, or a SAM policy template such as
                // `DynamoDBReadPolicy: {TableName: ...}`.
                other => return Err(unread(&format!("Policies[{i}] {other:?}"))),
            };
            for (key, value) in document {
                match key.as_str() {
                    Some("Version") => {}
                    Some("Statement") => {
                        for statement in one_or_many(value) {
                            let parsed =
                                self.statement(statement, bindings).map_err(|e| format!("{id}: Policies[{i}]: {e}"))?;
                            statements.push(parsed);
                        }
                    }
                    _ => return Err(unread(&format!("Policies[{i}] key {key:?}"))),
                }
            }
        }
        Ok(statements)
    }

    fn statement(&self, statement: &Value, bindings: &Bindings) -> Result<Statement, String> {
        let Value::Mapping(fields) = statement else {
            return Err(format!("a statement {statement:?} is not a mapping"));
        };
        for key in fields.keys() {
            match key.as_str() {
                Some("Sid" | "Effect" | "Action" | "Resource" | "Condition") => {}
                // NotAction, NotResource, Principal...: rights the check cannot bound.
                _ => return Err(format!("statement field {key:?} is not understood by the IAM check")),
            }
        }
        if statement["Effect"].as_str() != Some("Allow") {
            // A Deny would need evaluating with the opposite strictness; none is used.
            return Err(format!("Effect {:?}: the IAM check understands Allow statements only", statement["Effect"]));
        }
        let list = |field: &str| -> Result<Vec<String>, String> {
            match &statement[field] {
                Value::Null => Err(format!("a statement without {field}")),
                value => {
                    one_or_many(value).map(|v| self.resolve(v, bindings).map_err(|e| format!("{field}: {e}"))).collect()
                }
            }
        };
        Ok(Statement {
            actions: list("Action")?,
            resources: list("Resource")?,
            conditions: self.conditions(statement, bindings)?,
        })
    }

    /// `Condition: { <operator>: { <key>: <value or values> } }`.
    fn conditions(&self, statement: &Value, bindings: &Bindings) -> Result<Vec<Condition>, String> {
        let operators = match &statement["Condition"] {
            Value::Null => return Ok(Vec::new()),
            Value::Mapping(operators) => operators,
            other => return Err(format!("Condition {other:?} is not a mapping")),
        };
        let mut conditions = Vec::new();
        for (operator, keys) in operators {
            let operator = operator.as_str().ok_or_else(|| format!("a condition operator {operator:?}"))?;
            let keys: &Mapping = keys.as_mapping().ok_or_else(|| format!("{operator}: {keys:?} is not a mapping"))?;
            for (key, values) in keys {
                let key = key.as_str().ok_or_else(|| format!("{operator}: a condition key {key:?}"))?;
                let values = one_or_many(values)
                    .map(|v| self.resolve(v, bindings).map_err(|e| format!("{operator} {key}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                conditions.push(Condition::parse(operator, key, values)?);
            }
        }
        Ok(conditions)
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
                Some("HttpApi") => {
                    // `NONE` is how a route opts out of an API's default authorizer.
                    let authorizer = props["Auth"]["Authorizer"].as_str().filter(|a| *a != "NONE").map(str::to_string);
                    found.push(Event::Http { method: field("Method")?, path: field("Path")?, authorizer })
                }
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

/// IAM fields take a value or a list of values.
fn one_or_many(value: &Value) -> impl Iterator<Item = &Value> {
    match value {
        Value::Sequence(values) => values.iter(),
        single => std::slice::from_ref(single).iter(),
    }
}

/// The `HASH` attribute of a `KeySchema` list.
fn hash_key(schema: &Value) -> Result<String, String> {
    schema
        .as_sequence()
        .and_then(|keys| keys.iter().find(|k| k["KeyType"].as_str() == Some("HASH")))
        .and_then(|k| k["AttributeName"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("no HASH key in KeySchema {schema:?}"))
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

    /// A template of one function `F` with these `Policies` (list items indented by 8).
    fn function_with_policies(policies: &str) -> Template {
        template(&format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {{BuildProperties: {{Binary: f}}}}\n    \
             Properties:\n      MemorySize: 128\n      Timeout: 3\n      Policies:\n{policies}"
        ))
    }

    fn tokens_bindings() -> Bindings {
        let mut b = Bindings::default();
        b.resources.insert("KeySecret".into(), "arn:secret".into());
        b.attributes.insert("TokensTable.Arn".into(), "arn:table".into());
        b
    }

    #[test]
    fn policy_statements_resolve_their_intrinsics() {
        let t = function_with_policies(
            r#"        - Statement:
            - Effect: Allow
              Action: [dynamodb:Query]
              Resource: !Sub "${TokensTable.Arn}/index/by_subject"
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["SUB#*"]
                StringEqualsIfExists:
                  dynamodb:Select: SPECIFIC_ATTRIBUTES
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Ref KeySecret
"#,
        );
        let statements = &t.functions(&tokens_bindings()).unwrap()[0].statements;
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].actions, ["dynamodb:Query"]);
        assert_eq!(statements[0].resources, ["arn:table/index/by_subject"]);
        assert_eq!(statements[0].conditions.len(), 2);
        assert_eq!(statements[1].actions, ["secretsmanager:GetSecretValue"]);
        assert_eq!(statements[1].resources, ["arn:secret"]);
        assert!(statements[1].conditions.is_empty());
    }

    #[test]
    fn policies_the_iam_check_cannot_read_fail_loudly() {
        for policies in [
            "        - DynamoDBReadPolicy: {TableName: !Ref TokensTable}\n",
            "        - AWSLambdaBasicExecutionRole\n",
            "        - Statement: [{Effect: Deny, Action: '*', Resource: '*'}]\n",
            "        - Statement: [{Effect: Allow, NotAction: 's3:*', Resource: '*'}]\n",
            "        - Statement: [{Effect: Allow, Action: '*', Resource: '*', Condition: {Bool: {aws:SecureTransport: true}}}]\n",
        ] {
            let error = function_with_policies(policies)
                .functions(&tokens_bindings())
                .err()
                .unwrap_or_else(|| panic!("{policies} was accepted"));
            assert!(error.contains("F:") && error.contains("IAM check"), "{error}");
        }
    }
}
