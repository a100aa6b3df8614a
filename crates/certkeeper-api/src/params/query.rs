//! Rebuilds flattened GET query parameters into a JSON object.
//!
//! Each key is split at `.`. A segment after the first that is a decimal number is an array index,
//! any other segment is an object field. So `Tags.0.TagKey=a&Tags.0.TagValue=b` becomes
//! `{"Tags": [{"TagKey": "a", "TagValue": "b"}]}`. Leaf values stay strings.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, codes};

enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

/// Parses an `application/x-www-form-urlencoded` query string into a parameter object.
pub(super) fn parse(query: &str) -> Result<Map<String, Value>, ApiError> {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let segments: Vec<&str> = key.split('.').collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            return Err(ApiError::new(
                codes::INVALID_PARAMETER,
                format!("invalid query parameter name {key:?}: empty name segment"),
            ));
        }
        insert(&mut root, &segments, value.into_owned(), &key)?;
    }

    let mut object = Map::new();
    for (name, node) in root {
        let value = into_value(node, &name)?;
        object.insert(name, value);
    }
    Ok(object)
}

fn insert(
    branch: &mut BTreeMap<String, Node>,
    segments: &[&str],
    value: String,
    key: &str,
) -> Result<(), ApiError> {
    let conflict = || {
        ApiError::invalid_parameter(
            key,
            "the name appears more than once or conflicts with another flattened name",
        )
    };
    let (first, rest) = segments
        .split_first()
        .expect("parse rejects keys without segments");

    if rest.is_empty() {
        if branch.contains_key(*first) {
            return Err(conflict());
        }
        branch.insert((*first).to_owned(), Node::Leaf(value));
        return Ok(());
    }

    let child = branch
        .entry((*first).to_owned())
        .or_insert_with(|| Node::Branch(BTreeMap::new()));
    match child {
        Node::Branch(children) => insert(children, rest, value, key),
        Node::Leaf(_) => Err(conflict()),
    }
}

fn into_value(node: Node, path: &str) -> Result<Value, ApiError> {
    let children = match node {
        Node::Leaf(text) => return Ok(Value::String(text)),
        Node::Branch(children) => children,
    };

    let indexed: Option<Vec<usize>> = children
        .keys()
        .map(|segment| {
            let canonical = segment == "0" || !segment.starts_with('0');
            let digits = segment.bytes().all(|byte| byte.is_ascii_digit());
            if canonical && digits {
                segment.parse().ok()
            } else {
                None
            }
        })
        .collect();

    let Some(mut indices) = indexed else {
        let mut object = Map::new();
        for (segment, child) in children {
            let value = into_value(child, &format!("{path}.{segment}"))?;
            object.insert(segment, value);
        }
        return Ok(Value::Object(object));
    };

    indices.sort_unstable();
    if indices
        .iter()
        .enumerate()
        .any(|(position, index)| position != *index)
    {
        return Err(ApiError::invalid_parameter(
            path,
            "array indices must run from 0 upwards without gaps",
        ));
    }
    let mut elements: Vec<(usize, Node)> = children
        .into_iter()
        .map(|(segment, child)| (segment.parse().unwrap_or(usize::MAX), child))
        .collect();
    elements.sort_unstable_by_key(|(index, _)| *index);

    let mut array = Vec::with_capacity(elements.len());
    for (index, child) in elements {
        array.push(into_value(child, &format!("{path}.{index}"))?);
    }
    Ok(Value::Array(array))
}
