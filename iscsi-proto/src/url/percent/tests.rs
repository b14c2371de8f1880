use super::*;

struct Encoded<'a>(&'a str);
impl fmt::Display for Encoded<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_encoded(formatter, self.0)
    }
}

#[test]
fn decodes_escapes_in_either_case() {
    assert_eq!(
        decode("iqn.2001-04.com.example:a%2fb%2Fc").unwrap(),
        "iqn.2001-04.com.example:a/b/c"
    );
    assert_eq!(decode("caf%C3%A9").unwrap(), "café");
    assert_eq!(decode("plain").unwrap(), "plain");
}

#[test]
fn rejects_malformed_escapes() {
    for text in ["%", "%2", "a%zz", "%C3", "%é1"] {
        assert_eq!(
            decode(text),
            Err(UrlError::BadPercentEncoding { text: text.into() }),
            "{text}"
        );
    }
}

#[test]
fn encodes_separators_and_non_ascii() {
    assert_eq!(
        Encoded("iqn.2001-04.com.example:a/b?c%d@e&f é").to_string(),
        "iqn.2001-04.com.example:a%2Fb%3Fc%25d%40e%26f%20%C3%A9"
    );
}
