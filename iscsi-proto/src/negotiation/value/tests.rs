use super::*;

#[test]
fn numbers_in_decimal_and_hex() {
    assert_eq!(parse_number("0"), Ok(0));
    assert_eq!(parse_number("262144"), Ok(262_144));
    assert_eq!(parse_number("0x40000"), Ok(262_144));
    assert_eq!(parse_number("0XfF"), Ok(255));
    assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
}

#[test]
fn malformed_numbers() {
    for raw in [
        "",
        "+1",
        "-1",
        " 1",
        "1 ",
        "1e3",
        "0x",
        "0x+1",
        "abc",
        "18446744073709551616",
    ] {
        assert_eq!(parse_number(raw), Err(ValueProblem::NotANumber), "{raw:?}");
    }
}

#[test]
fn number_range_is_inclusive() {
    let range = ValueType::Number {
        min: 512,
        max: 16_777_215,
    };
    assert_eq!(parse_value(&range, "512"), Ok(Value::Number(512)));
    assert_eq!(
        parse_value(&range, "16777215"),
        Ok(Value::Number(16_777_215))
    );
    assert_eq!(
        parse_value(&range, "511"),
        Err(ValueProblem::OutOfRange {
            min: 512,
            max: 16_777_215
        })
    );
    assert_eq!(
        parse_value(&range, "16777216"),
        Err(ValueProblem::OutOfRange {
            min: 512,
            max: 16_777_215
        })
    );
}

#[test]
fn booleans_are_case_sensitive() {
    assert_eq!(
        parse_value(&ValueType::Boolean, "Yes"),
        Ok(Value::Boolean(true))
    );
    assert_eq!(
        parse_value(&ValueType::Boolean, "No"),
        Ok(Value::Boolean(false))
    );
    assert_eq!(
        parse_value(&ValueType::Boolean, "yes"),
        Err(ValueProblem::NotBoolean)
    );
}

#[test]
fn words_and_text() {
    let words = ValueType::Word(&["Discovery", "Normal"]);
    assert_eq!(
        parse_value(&words, "Normal"),
        Ok(Value::Text("Normal".into()))
    );
    assert_eq!(
        parse_value(&words, "normal"),
        Err(ValueProblem::NotAllowed {
            allowed: &["Discovery", "Normal"]
        })
    );
    let text = ValueType::Text { max_len: 4 };
    assert_eq!(parse_value(&text, "disk"), Ok(Value::Text("disk".into())));
    assert_eq!(
        parse_value(&text, "disk0"),
        Err(ValueProblem::TooLong { max_len: 4 })
    );
}

#[test]
fn lists_keep_order_and_refuse_empty_elements() {
    assert_eq!(parse_list("CRC32C,None"), Ok(vec!["CRC32C", "None"]));
    assert_eq!(parse_list("None"), Ok(vec!["None"]));
    assert_eq!(parse_list("CRC32C,,None"), Err(ValueProblem::EmptyElement));
    assert_eq!(parse_list(""), Err(ValueProblem::EmptyElement));
    let long = "x".repeat(256);
    assert_eq!(
        parse_list(&long),
        Err(ValueProblem::TooLong { max_len: 255 })
    );
}

#[test]
fn values_print_in_wire_form() {
    assert_eq!(Value::Number(8192).to_string(), "8192");
    assert_eq!(Value::Boolean(true).to_string(), "Yes");
    assert_eq!(Value::Boolean(false).to_string(), "No");
    assert_eq!(Value::Text("CRC32C".into()).to_string(), "CRC32C");
}

#[test]
fn special_values() {
    for special in [Special::NotUnderstood, Special::Irrelevant, Special::Reject] {
        assert_eq!(Special::parse(special.as_str()), Some(special));
    }
    assert_eq!(Special::parse("reject"), None);
}
