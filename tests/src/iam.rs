//! The IAM check moto does not make: the AWS requests a function really sent (recorded by
//! `fault_proxy`), turned into the IAM authorization requests AWS would evaluate, and
//! evaluated against the function's own policy statements from `template.yaml`.
//!
//! Only what the template uses is understood: `Allow` statements of actions and resources
//! (`*` and `?` wildcards), with `ForAllValues:StringLike` / `ForAllValues:StringEquals`
//! on `dynamodb:LeadingKeys` or `dynamodb:Attributes`, and `StringEqualsIfExists` on
//! `dynamodb:Select`. Anything else is refused when the template is read, never guessed.
//!
//! The check is stricter than IAM in one place, on purpose: a `ForAllValues` condition is
//! not met by an empty set. IAM lets a `GetItem` without a projection through a
//! `dynamodb:Attributes` condition (every one of no attributes is allowed), and a
//! keyless `Scan` through a `dynamodb:LeadingKeys` one; both read whole items or the
//! whole table, which is what those conditions are written to prevent.

use crate::fault_proxy::RecordedCall;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The account and region every ARN of a test deployment is in (the template renderer's
/// `AWS::AccountId` and `AWS::Region`).
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

const DYNAMODB_TARGET: &str = "DynamoDB_20120810.";
const SECRETS_MANAGER_TARGET: &str = "secretsmanager.";

/// `!GetAtt <Table>.Arn` of a table with this name: what requests to it are checked as.
pub fn table_arn(table: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
}

/// One `Effect: Allow` statement of a function's policy, intrinsics resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// All must hold.
    pub conditions: Vec<Condition>,
}

/// A multi-valued DynamoDB condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKey {
    /// `dynamodb:LeadingKeys`: the partition key values the request touches.
    LeadingKeys,
    /// `dynamodb:Attributes`: the attributes the request reads.
    Attributes,
}

/// One condition, in the forms the check understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `ForAllValues:StringLike` (`like`) or `ForAllValues:StringEquals`: every value of
    /// the request's set is one of `values`; the set must not be empty (see the module
    /// documentation).
    ForAllValues { key: SetKey, like: bool, values: Vec<String> },
    /// `StringEqualsIfExists` on `dynamodb:Select`: a request that says what it selects
    /// selects one of `values`.
    SelectIfExists { values: Vec<String> },
}

impl Condition {
    /// The condition `operator: { key: values }` of a policy, or why the check cannot
    /// evaluate it.
    pub fn parse(operator: &str, key: &str, values: Vec<String>) -> Result<Self, String> {
        let set_key = match key {
            "dynamodb:LeadingKeys" => Some(SetKey::LeadingKeys),
            "dynamodb:Attributes" => Some(SetKey::Attributes),
            _ => None,
        };
        match (operator, set_key, key) {
            ("ForAllValues:StringLike", Some(key), _) => Ok(Self::ForAllValues { key, like: true, values }),
            ("ForAllValues:StringEquals", Some(key), _) => Ok(Self::ForAllValues { key, like: false, values }),
            ("StringEqualsIfExists", None, "dynamodb:Select") => Ok(Self::SelectIfExists { values }),
            _ => Err(format!(
                "condition {operator} on {key} is not understood by the IAM check (tests/src/iam.rs): \
                 teach it the operator and key before using them in template.yaml"
            )),
        }
    }

    fn holds(&self, request: &Request) -> bool {
        match self {
            Self::ForAllValues { key, like, values } => {
                let requested = match key {
                    SetKey::LeadingKeys => &request.leading_keys[..],
                    SetKey::Attributes => request.attributes.as_deref().unwrap_or_default(),
                };
                let matches = |value: &String| {
                    values.iter().any(|allowed| if *like { glob(allowed, value) } else { allowed == value })
                };
                !requested.is_empty() && requested.iter().all(matches)
            }
            Self::SelectIfExists { values } => request.select.as_ref().is_none_or(|select| values.contains(select)),
        }
    }
}

impl Statement {
    fn allows(&self, request: &Request) -> bool {
        // IAM action names are case-insensitive; resources (ARNs) are not.
        let action = request.action.to_ascii_lowercase();
        self.actions.iter().any(|a| glob(&a.to_ascii_lowercase(), &action))
            && self.resources.iter().any(|r| glob(r, &request.resource))
            && self.conditions.iter().all(|c| c.holds(request))
    }
}

/// What DynamoDB needs to know about a table to find the partition key of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySchema {
    /// The table's partition (HASH) key attribute.
    pub partition_key: String,
    /// Each secondary index's partition key attribute, by index name.
    pub indexes: BTreeMap<String, String>,
}

/// Key schemas by table name.
pub type Tables = HashMap<String, KeySchema>;

/// One IAM authorization request: what AWS evaluates a policy against. One AWS call may
/// need several (a transaction, a batch over several tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// `dynamodb:LeadingKeys`; empty for a call on no particular partition.
    pub leading_keys: Vec<String>,
    /// `dynamodb:Attributes`: the projection, `None` when the call reads whole items.
    pub attributes: Option<Vec<String>>,
    /// `dynamodb:Select`, when the call has one.
    pub select: Option<String>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)?;
        if !self.action.starts_with("dynamodb:") {
            // Keys and attributes are DynamoDB's: elsewhere they say nothing.
            return Ok(());
        }
        write!(f, ", leading keys {:?}", self.leading_keys)?;
        match &self.attributes {
            Some(attributes) => write!(f, ", attributes {attributes:?}")?,
            None => write!(f, ", attributes (all)")?,
        }
        if let Some(select) = &self.select {
            write!(f, ", select {select}")?;
        }
        Ok(())
    }
}

/// An IAM request of a recorded call that no statement allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub function: String,
    /// The call's `X-Amz-Target` (a transaction's items are checked one by one).
    pub target: String,
    pub request: Request,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (in {})", self.function, self.request, self.target)
    }
}

/// Whether some statement allows the request (statements are all `Allow`, so one is enough).
pub fn allowed(statements: &[Statement], request: &Request) -> bool {
    statements.iter().any(|s| s.allows(request))
}

/// Every IAM request of `calls` that `function`'s statements do not allow, in call order.
pub fn denied(function: &str, statements: &[Statement], calls: &[RecordedCall], tables: &Tables) -> Vec<Denied> {
    calls
        .iter()
        .flat_map(|call| {
            requests(call, tables).into_iter().filter(|r| !allowed(statements, r)).map(|request| Denied {
                function: function.to_string(),
                target: call.target.clone(),
                request,
            })
        })
        .collect()
}

/// The IAM requests AWS would evaluate for one call. A call to a service the check does
/// not know is an error: it would otherwise pass unchecked.
pub fn requests(call: &RecordedCall, tables: &Tables) -> Vec<Request> {
    let body = || -> Value {
        serde_json::from_str(&call.body)
            .unwrap_or_else(|e| panic!("{}: the body is not JSON ({e}): {:?}", call.target, call.body))
    };
    if let Some(operation) = call.target.strip_prefix(DYNAMODB_TARGET) {
        dynamodb(operation, &body(), tables)
    } else if let Some(operation) = call.target.strip_prefix(SECRETS_MANAGER_TARGET) {
        vec![secrets_manager(operation, &body())]
    } else {
        panic!(
            "an AWS call with target {:?}: the IAM check knows DynamoDB and Secrets Manager only \
             (tests/src/iam.rs); body {:?}",
            call.target, call.body
        )
    }
}

fn secrets_manager(operation: &str, body: &Value) -> Request {
    Request {
        action: format!("secretsmanager:{operation}"),
        // Calls on no one secret (ListSecrets) are authorized against `*`.
        resource: body["SecretId"].as_str().unwrap_or("*").to_string(),
        leading_keys: Vec::new(),
        attributes: None,
        select: None,
    }
}

fn dynamodb(operation: &str, body: &Value, tables: &Tables) -> Vec<Request> {
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![item(operation, operation, body, "Key", tables)],
        "PutItem" => vec![item("PutItem", operation, body, "Item", tables)],
        "BatchGetItem" => batch_get(body, tables),
        "TransactWriteItems" => transact_write(body, tables),
        "Query" => vec![query(body, tables)],
        // No partition: the whole table or index.
        _ => vec![Request {
            action: format!("dynamodb:{operation}"),
            resource: body["TableName"].as_str().map(|t| resource(t, body)).unwrap_or_else(|| "*".into()),
            leading_keys: Vec::new(),
            attributes: projection(body),
            select: select(body),
        }],
    }
}

/// A one-item request (`GetItem`, a transaction's `Put`...), its partition key in `field`
/// of `body` (`Key`, or `Item` for a put). `what` names the call for error messages.
fn item(what: &str, operation: &str, body: &Value, field: &str, tables: &Tables) -> Request {
    let table = table_name(what, body);
    let partition_key = &schema(tables, table).partition_key;
    let value = body[field].get(partition_key).unwrap_or_else(|| {
        panic!("{what}: no partition key {partition_key:?} in its {field}: {body}");
    });
    Request {
        action: format!("dynamodb:{operation}"),
        resource: table_arn(table),
        leading_keys: vec![scalar(value, what)],
        attributes: projection(body),
        select: select(body),
    }
}

/// One IAM request per table of the batch, with the partition key of every key asked for.
fn batch_get(body: &Value, tables: &Tables) -> Vec<Request> {
    object(&body["RequestItems"], "BatchGetItem: RequestItems")
        .iter()
        .map(|(table, asked)| {
            let partition_key = &schema(tables, table).partition_key;
            let leading_keys = array(&asked["Keys"], "BatchGetItem: Keys")
                .iter()
                .map(|key| {
                    let value = key.get(partition_key).unwrap_or_else(|| {
                        panic!("BatchGetItem: a key of {table} without partition key {partition_key:?}: {key}")
                    });
                    scalar(value, "BatchGetItem")
                })
                .collect();
            Request {
                action: "dynamodb:BatchGetItem".into(),
                resource: table_arn(table),
                leading_keys,
                attributes: projection(asked),
                select: select(asked),
            }
        })
        .collect()
}

/// A transaction has no IAM action of its own: each item is authorized as the one-item
/// action it amounts to.
fn transact_write(body: &Value, tables: &Tables) -> Vec<Request> {
    array(&body["TransactItems"], "TransactWriteItems: TransactItems")
        .iter()
        .map(|element| {
            let (kind, inner) = object(element, "TransactWriteItems: an item")
                .iter()
                .next()
                .unwrap_or_else(|| panic!("TransactWriteItems: an empty item: {element}"));
            let (operation, field) = match kind.as_str() {
                "Put" => ("PutItem", "Item"),
                "Update" => ("UpdateItem", "Key"),
                "Delete" => ("DeleteItem", "Key"),
                "ConditionCheck" => ("ConditionCheckItem", "Key"),
                other => panic!("TransactWriteItems: an item of kind {other:?}: {element}"),
            };
            item(&format!("TransactWriteItems {kind}"), operation, inner, field, tables)
        })
        .collect()
}

/// A query's leading key is the value its key condition binds to the partition key of
/// the table, or of the index it queries.
fn query(body: &Value, tables: &Tables) -> Request {
    let table = table_name("Query", body);
    let schema = schema(tables, table);
    let partition_key = match body["IndexName"].as_str() {
        Some(index) => schema
            .indexes
            .get(index)
            .unwrap_or_else(|| panic!("Query: index {index:?} of {table} is not in the template's key schema")),
        None => &schema.partition_key,
    };
    Request {
        action: "dynamodb:Query".into(),
        resource: resource(table, body),
        leading_keys: vec![key_condition_value(body, partition_key)],
        attributes: projection(body),
        select: select(body),
    }
}

/// The value of `<partition_key> = :placeholder` in `KeyConditionExpression` (DynamoDB
/// allows only equality on a partition key, so there is exactly one such clause).
fn key_condition_value(body: &Value, partition_key: &str) -> String {
    let expression = body["KeyConditionExpression"]
        .as_str()
        .unwrap_or_else(|| panic!("Query without KeyConditionExpression (not understood by the IAM check): {body}"));
    for clause in expression.split_whitespace().collect::<Vec<_>>().split(|w| w.eq_ignore_ascii_case("AND")) {
        let clause = clause.join(" ");
        let clause = clause.trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace());
        let Some((left, right)) = equality(clause) else { continue };
        for (name, value) in [(left, right), (right, left)] {
            if attribute_name(body, name) == partition_key && value.starts_with(':') {
                let bound = body["ExpressionAttributeValues"].get(value).unwrap_or_else(|| {
                    panic!("Query: {value} of {expression:?} is not in ExpressionAttributeValues: {body}")
                });
                return scalar(bound, "Query");
            }
        }
    }
    panic!("Query: no `{partition_key} = :value` in KeyConditionExpression {expression:?}")
}

/// `a = b` split in its two sides; `None` for any other comparison (`<=`, `>=`, `<>`, a
/// function).
fn equality(clause: &str) -> Option<(&str, &str)> {
    let (left, right) = clause.split_once('=')?;
    if left.ends_with(['<', '>', '!']) || right.contains('=') {
        return None;
    }
    Some((left.trim(), right.trim()))
}

/// `dynamodb:Attributes`: the top-level attributes of `ProjectionExpression`, `#names`
/// resolved; `None` when the request reads whole items.
fn projection(container: &Value) -> Option<Vec<String>> {
    let expression = container["ProjectionExpression"].as_str()?;
    let attributes = expression
        .split(',')
        .map(|path| {
            // A path reads part of a top-level attribute: IAM sees that attribute.
            let top = path.trim().split(['.', '[']).next().unwrap_or_default();
            attribute_name(container, top).to_string()
        })
        .collect();
    Some(attributes)
}

/// `dynamodb:Select`: as given, or what DynamoDB implies for a projection.
fn select(container: &Value) -> Option<String> {
    match container["Select"].as_str() {
        Some(select) => Some(select.to_string()),
        None => container["ProjectionExpression"].is_string().then(|| "SPECIFIC_ATTRIBUTES".to_string()),
    }
}

/// A name of an expression, `#placeholder` resolved through `ExpressionAttributeNames`.
fn attribute_name<'a>(container: &'a Value, name: &'a str) -> &'a str {
    if !name.starts_with('#') {
        return name;
    }
    container["ExpressionAttributeNames"]
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name} is not in ExpressionAttributeNames: {container}"))
}

/// The resource of a table-wide call: the table, or the index it names.
fn resource(table: &str, body: &Value) -> String {
    match body["IndexName"].as_str() {
        Some(index) => format!("{}/index/{index}", table_arn(table)),
        None => table_arn(table),
    }
}

fn table_name<'a>(what: &str, body: &'a Value) -> &'a str {
    body["TableName"].as_str().unwrap_or_else(|| panic!("{what}: no TableName: {body}"))
}

fn schema<'a>(tables: &'a Tables, table: &str) -> &'a KeySchema {
    tables
        .get(table)
        .unwrap_or_else(|| panic!("a call on table {table:?}, whose key schema the IAM check was not given"))
}

/// A key value as IAM compares it: the string (or number) inside its DynamoDB JSON type.
fn scalar(value: &Value, what: &str) -> String {
    match (value["S"].as_str(), value["N"].as_str()) {
        (Some(s), _) | (None, Some(s)) => s.to_string(),
        _ => panic!("{what}: a partition key value of a type the IAM check does not compare: {value}"),
    }
}

fn object<'a>(value: &'a Value, what: &str) -> &'a Map<String, Value> {
    value.as_object().unwrap_or_else(|| panic!("{what} is not an object: {value}"))
}

fn array<'a>(value: &'a Value, what: &str) -> &'a [Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_else(|| panic!("{what} is not an array: {value}"))
}

/// IAM's string matching: `*` any run of characters, `?` any one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Backtracking to the last `*` is enough: a later `*` can always absorb what an
    // earlier one would have.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TABLE: &str = "tokens";

    fn tables() -> Tables {
        let schema = KeySchema {
            partition_key: "pk".into(),
            indexes: BTreeMap::from([("by_subject".to_string(), "gsi1pk".to_string())]),
        };
        Tables::from([(TABLE.to_string(), schema)])
    }

    fn call(operation: &str, body: Value) -> RecordedCall {
        RecordedCall { target: format!("{DYNAMODB_TARGET}{operation}"), body: body.to_string() }
    }

    fn like(patterns: &[&str]) -> Condition {
        Condition::ForAllValues { key: SetKey::LeadingKeys, like: true, values: strings(patterns) }
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn statement(actions: &[&str], resource: &str, conditions: Vec<Condition>) -> Statement {
        Statement { actions: strings(actions), resources: vec![resource.to_string()], conditions }
    }

    /// The denied requests of one call, as lines.
    fn denials(statements: &[Statement], call: RecordedCall) -> Vec<String> {
        denied("Function", statements, &[call], &tables()).iter().map(|d| d.request.to_string()).collect()
    }

    #[test]
    fn a_get_item_is_allowed_by_its_leading_key_only() {
        let policy = [statement(&["dynamodb:GetItem"], &table_arn(TABLE), vec![like(&["CLIENT#*"])])];
        let get = |pk: &str| call("GetItem", json!({"TableName": TABLE, "Key": {"pk": {"S": pk}, "sk": {"S": "x"}}}));
        assert!(denials(&policy, get("CLIENT#abc")).is_empty());
        let denied = denials(&policy, get("USER#alice"));
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert!(denied[0].contains("dynamodb:GetItem") && denied[0].contains("USER#alice"), "{denied:?}");
        // Same key, other action or other table: no statement.
        let put = call("PutItem", json!({"TableName": TABLE, "Item": {"pk": {"S": "CLIENT#abc"}}}));
        assert_eq!(denials(&policy, put).len(), 1);
        let elsewhere = call("GetItem", json!({"TableName": "other", "Key": {"pk": {"S": "CLIENT#abc"}}}));
        let other_tables = Tables::from([("other".to_string(), tables()[TABLE].clone())]);
        assert_eq!(super::denied("F", &policy, &[elsewhere], &other_tables).len(), 1);
    }

    #[test]
    fn a_batch_get_with_one_key_outside_the_policy_is_denied() {
        let policy = [statement(&["dynamodb:BatchGetItem"], &table_arn(TABLE), vec![like(&["REVOKED#*"])])];
        let batch = |keys: &[&str]| {
            let keys: Vec<Value> = keys.iter().map(|k| json!({"pk": {"S": k}, "sk": {"S": "-"}})).collect();
            call("BatchGetItem", json!({"RequestItems": {TABLE: {"Keys": keys, "ConsistentRead": true}}}))
        };
        assert!(denials(&policy, batch(&["REVOKED#a", "REVOKED#b"])).is_empty());
        let denied = denials(&policy, batch(&["REVOKED#a", "CLIENT#c"]));
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert!(denied[0].contains("CLIENT#c"), "{denied:?}");
    }

    #[test]
    fn a_projection_outside_the_allowed_attributes_is_denied() {
        let attributes = Condition::ForAllValues {
            key: SetKey::Attributes,
            like: false,
            values: strings(&["pk", "sk", "expires_at", "disabled"]),
        };
        let select = Condition::SelectIfExists { values: strings(&["SPECIFIC_ATTRIBUTES"]) };
        let policy =
            [statement(&["dynamodb:BatchGetItem"], &table_arn(TABLE), vec![like(&["REVOKED#*"]), attributes, select])];
        let batch = |projection: Option<&str>| {
            let mut asked = json!({
                "Keys": [{"pk": {"S": "REVOKED#a"}, "sk": {"S": "-"}}],
                "ExpressionAttributeNames": {"#pk": "pk", "#expires_at": "expires_at", "#secret": "secret_hash"},
            });
            if let Some(projection) = projection {
                asked["ProjectionExpression"] = json!(projection);
            }
            call("BatchGetItem", json!({"RequestItems": {TABLE: asked}}))
        };
        assert!(denials(&policy, batch(Some("#pk, #expires_at"))).is_empty());
        let denied = denials(&policy, batch(Some("#pk, #secret")));
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert!(denied[0].contains("secret_hash"), "{denied:?}");
        // Stricter than IAM: no projection reads every attribute, so it is not allowed.
        assert_eq!(denials(&policy, batch(None)).len(), 1);
    }

    #[test]
    fn each_item_of_a_transaction_needs_its_own_action() {
        let table = table_arn(TABLE);
        let policy = [
            statement(&["dynamodb:PutItem"], &table, vec![like(&["FAMILY#*"])]),
            statement(&["dynamodb:ConditionCheckItem"], &table, vec![like(&["REVOKED#*"])]),
        ];
        let transaction = |update_pk: Option<&str>| {
            let mut items = vec![
                json!({"Put": {"TableName": TABLE, "Item": {"pk": {"S": "FAMILY#f"}, "sk": {"S": "-"}}}}),
                json!({"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "REVOKED#f"}}, "ConditionExpression": "attribute_not_exists(pk)"}}),
            ];
            if let Some(pk) = update_pk {
                items.push(
                    json!({"Update": {"TableName": TABLE, "Key": {"pk": {"S": pk}}, "UpdateExpression": "SET a = :a"}}),
                );
            }
            call("TransactWriteItems", json!({"TransactItems": items}))
        };
        assert!(denials(&policy, transaction(None)).is_empty());
        let denied = denials(&policy, transaction(Some("FAMILY#f")));
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert!(denied[0].starts_with("dynamodb:UpdateItem on") && denied[0].contains("FAMILY#f"), "{denied:?}");
    }

    #[test]
    fn a_query_of_an_index_is_authorized_on_the_index_by_its_partition_key() {
        let index = format!("{}/index/by_subject", table_arn(TABLE));
        let policy = [statement(&["dynamodb:Query"], &index, vec![like(&["SUB#*"])])];
        let query = |index: Option<&str>, pk: &str| {
            let mut body = json!({
                "TableName": TABLE,
                "KeyConditionExpression": "#k = :pk AND begins_with(gsi1sk, :session)",
                "ExpressionAttributeNames": {"#k": "gsi1pk"},
                "ExpressionAttributeValues": {":pk": {"S": pk}, ":session": {"S": "SESSION#"}},
            });
            if let Some(index) = index {
                body["IndexName"] = json!(index);
            }
            call("Query", body)
        };
        assert!(denials(&policy, query(Some("by_subject"), "SUB#alice")).is_empty());
        assert_eq!(denials(&policy, query(Some("by_subject"), "DELIVERY#PENDING#1")).len(), 1);
        // The same query of the table itself is a request on another resource.
        let on_table = |pk: &str| {
            call(
                "Query",
                json!({"TableName": TABLE, "KeyConditionExpression": "pk = :pk AND sk <= :max",
                       "ExpressionAttributeValues": {":pk": {"S": pk}, ":max": {"S": "z"}}}),
            )
        };
        let denied = denials(&policy, on_table("SUB#alice"));
        assert_eq!(
            denied,
            [format!("dynamodb:Query on {}, leading keys [\"SUB#alice\"], attributes (all)", table_arn(TABLE))]
        );
    }

    #[test]
    fn a_secret_is_authorized_by_its_arn_and_action() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:KeySecret-AbCdEf";
        let policy = [statement(&["secretsmanager:GetSecretValue", "secretsmanager:Describe*"], arn, vec![])];
        let secret = |operation: &str, id: &str| RecordedCall {
            target: format!("{SECRETS_MANAGER_TARGET}{operation}"),
            body: json!({"SecretId": id}).to_string(),
        };
        assert!(denials(&policy, secret("GetSecretValue", arn)).is_empty());
        assert!(denials(&policy, secret("DescribeSecret", arn)).is_empty(), "a trailing wildcard");
        assert_eq!(denials(&policy, secret("PutSecretValue", arn)).len(), 1);
        assert_eq!(
            denials(&policy, secret("GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:Other"))
                .len(),
            1
        );
    }

    #[test]
    fn a_keyless_scan_does_not_pass_a_leading_keys_condition() {
        let policy = [statement(&["dynamodb:Scan"], &table_arn(TABLE), vec![like(&["CLIENT#*"])])];
        assert_eq!(denials(&policy, call("Scan", json!({"TableName": TABLE}))).len(), 1);
        let unconditioned = [statement(&["dynamodb:Scan"], &table_arn(TABLE), vec![])];
        assert!(denials(&unconditioned, call("Scan", json!({"TableName": TABLE}))).is_empty());
    }

    #[test]
    fn conditions_the_check_does_not_know_are_refused() {
        assert!(Condition::parse("ForAllValues:StringLike", "dynamodb:LeadingKeys", vec![]).is_ok());
        assert!(Condition::parse("StringEqualsIfExists", "dynamodb:Select", vec![]).is_ok());
        assert!(Condition::parse("ForAnyValue:StringLike", "dynamodb:LeadingKeys", vec![]).is_err());
        assert!(Condition::parse("StringEquals", "aws:SourceVpc", vec![]).is_err());
        assert!(Condition::parse("StringEqualsIfExists", "dynamodb:LeadingKeys", vec![]).is_err());
    }

    #[test]
    fn globs_match_as_iam_does() {
        assert!(glob("CLIENT#*", "CLIENT#abc"));
        assert!(glob("CLIENT#*", "CLIENT#"));
        assert!(!glob("CLIENT#*", "FAILURES#CLIENT#abc"));
        assert!(glob("*#CLIENT#*", "FAILURES#CLIENT#abc"));
        assert!(glob("a*b*c", "axxbyybzc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }
}
