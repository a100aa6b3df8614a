use serde_json::json;

use super::*;

fn params(value: Value) -> Params {
    match value {
        Value::Object(map) => Params::from_map(map),
        other => panic!("test input must be an object, got {other}"),
    }
}

#[test]
fn integer_accepts_numbers_and_numeric_strings() {
    let params = params(json!({"A": 5, "B": "17", "C": "-3", "D": -4}));
    assert_eq!(params.required_integer("A"), Ok(5));
    assert_eq!(params.required_integer("B"), Ok(17));
    assert_eq!(params.required_integer("C"), Ok(-3));
    assert_eq!(params.optional_integer("D"), Ok(Some(-4)));
    assert_eq!(params.optional_integer("Absent"), Ok(None));
}

#[test]
fn integer_rejects_other_types() {
    let params = params(json!({
        "Float": 1.5, "Word": "ten", "Padded": " 1", "Plus": "+1", "Flag": true,
        "List": [1], "Huge": "99999999999999999999"
    }));
    for name in ["Float", "Word", "Padded", "Plus", "Flag", "List", "Huge"] {
        let error = params.required_integer(name).unwrap_err();
        assert_eq!(error.code, "InvalidParameter", "{name}");
        assert!(error.message.contains(name), "{name}: {}", error.message);
        assert!(
            error.message.contains("an integer"),
            "{name}: {}",
            error.message
        );
    }
}

#[test]
fn unsigned_rejects_negative() {
    let params = params(json!({"Offset": -1, "Limit": "-2", "Ok": "20"}));
    assert_eq!(params.optional_unsigned("Ok"), Ok(Some(20)));
    for name in ["Offset", "Limit"] {
        let error = params.optional_unsigned(name).unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        assert!(
            error.message.contains("non-negative integer"),
            "{}",
            error.message
        );
    }
}

#[test]
fn bool_accepts_strings_in_any_case() {
    let params = params(json!({"A": true, "B": "false", "C": "True", "D": "yes", "E": 1}));
    assert_eq!(params.optional_bool("A"), Ok(Some(true)));
    assert_eq!(params.optional_bool("B"), Ok(Some(false)));
    assert_eq!(params.optional_bool("C"), Ok(Some(true)));
    assert_eq!(
        params.optional_bool("D").unwrap_err().code,
        "InvalidParameter"
    );
    assert_eq!(
        params.optional_bool("E").unwrap_err().code,
        "InvalidParameter"
    );
}

#[test]
fn string_accepts_numbers_as_text() {
    let params = params(json!({"A": "x", "B": 3, "C": [], "D": null}));
    assert_eq!(params.required_string("A"), Ok("x".to_owned()));
    assert_eq!(params.required_string("B"), Ok("3".to_owned()));
    let error = params.required_string("C").unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(error.message.contains("a string"), "{}", error.message);
    assert_eq!(params.optional_string("D"), Ok(None));
}

#[test]
fn required_reports_missing_name() {
    let params = params(json!({"Other": 1, "Null": null}));
    for name in ["CertificateId", "Null"] {
        let error = params.required_string(name).unwrap_err();
        assert_eq!(error.code, "MissingParameter");
        assert!(error.message.contains(name), "{}", error.message);
    }
}

#[test]
fn arrays_name_faulty_element() {
    let params =
        params(json!({"Ids": ["a", "b"], "Status": [1, "9"], "Bad": [1, "x"], "Scalar": 1}));
    assert_eq!(
        params.required_string_array("Ids"),
        Ok(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(
        params.optional_integer_array("Status"),
        Ok(Some(vec![1, 9]))
    );

    let error = params.optional_integer_array("Bad").unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(error.message.contains("Bad.1"), "{}", error.message);

    let error = params.optional_integer_array("Scalar").unwrap_err();
    assert!(
        error.message.contains("an array of integer values"),
        "{}",
        error.message
    );
}

#[test]
fn check_declared_names_unknown() {
    let params = params(json!({"CertificateId": "a", "Colour": "red"}));
    assert_eq!(params.check_declared(&["CertificateId", "Colour"]), Ok(()));
    let error = params.check_declared(&["CertificateId"]).unwrap_err();
    assert_eq!(error.code, "UnknownParameter");
    assert!(error.message.contains("Colour"), "{}", error.message);
}

#[test]
fn json_body_must_be_object() {
    assert_eq!(Params::from_json_body(b"").unwrap(), Params::default());
    assert_eq!(Params::from_json_body(b" {} ").unwrap(), Params::default());
    for body in [&b"[1]"[..], b"\"text\"", b"{\"a\":", b"null", b"\xff"] {
        let error = Params::from_json_body(body).unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        assert!(
            error.message.contains("must be a JSON object"),
            "{}",
            error.message
        );
    }
}

#[test]
fn query_rebuilds_nested_values() {
    let query = "CertificateStatus.0=1&CertificateStatus.1=9&Tags.0.TagKey=a&Tags.0.TagValue=b%20c\
                 &Tags.1.TagKey=d&SearchKey=x+y&Limit=10";
    let params = Params::from_query(query).unwrap();
    assert_eq!(
        Value::Object(params.as_map().clone()),
        json!({
            "CertificateStatus": ["1", "9"],
            "Tags": [{"TagKey": "a", "TagValue": "b c"}, {"TagKey": "d"}],
            "SearchKey": "x y",
            "Limit": "10"
        })
    );
    assert_eq!(
        params.optional_integer_array("CertificateStatus"),
        Ok(Some(vec![1, 9]))
    );
    assert_eq!(params.optional_unsigned("Limit"), Ok(Some(10)));
}

#[test]
fn query_orders_indices_numerically() {
    let query: String = (0..12)
        .rev()
        .map(|index| format!("Ids.{index}=v{index}&"))
        .collect();
    let params = Params::from_query(&query).unwrap();
    let expected: Vec<String> = (0..12).map(|index| format!("v{index}")).collect();
    assert_eq!(params.required_string_array("Ids"), Ok(expected));
}

#[test]
fn query_rejects_bad_names() {
    let cases = [
        ("A=1&A=2", "A"),
        ("A=1&A.0=2", "A.0"),
        ("A.0=2&A=1", "A"),
        ("A.1=x", "A"),
        ("A.0=x&A.2=y", "A"),
        ("A..B=1", "A..B"),
        (".A=1", ".A"),
    ];
    for (query, named) in cases {
        let error = Params::from_query(query).unwrap_err();
        assert_eq!(error.code, "InvalidParameter", "{query}");
        assert!(error.message.contains(named), "{query}: {}", error.message);
    }
}

#[test]
fn query_empty_is_no_parameters() {
    assert_eq!(Params::from_query("").unwrap(), Params::default());
}

#[test]
fn deserialize_reports_shape_error() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        tag_key: String,
        tag_value: Option<String>,
    }
    let params = params(json!({"Tags": [{"TagKey": "a"}], "Bad": [{"TagValue": "b"}]}));
    let tags: Option<Vec<Tag>> = params.optional_deserialize("Tags").unwrap();
    assert_eq!(
        tags,
        Some(vec![Tag {
            tag_key: "a".into(),
            tag_value: None
        }])
    );
    let error = params.optional_deserialize::<Vec<Tag>>("Bad").unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(error.message.contains("Bad"), "{}", error.message);
}
