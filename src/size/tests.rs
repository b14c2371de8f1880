use super::*;

#[test]
fn fio_style_sizes() {
    assert_eq!("4k".parse(), Ok(Size(4096)));
    assert_eq!("4K".parse(), Ok(Size(4096)));
    assert_eq!("1M".parse(), Ok(Size(1 << 20)));
    assert_eq!("1MiB".parse(), Ok(Size(1 << 20)));
    assert_eq!("512".parse(), Ok(Size(512)));
    assert_eq!("2g".parse(), Ok(Size(2 << 30)));
    assert!("".parse::<Size>().is_err());
    assert!("4q".parse::<Size>().is_err());
    assert!("k".parse::<Size>().is_err());
    assert!("99999999999999999999t".parse::<Size>().is_err());
    assert_eq!(Size(1 << 20).to_string(), "1M");
    assert_eq!(Size(4096).to_string(), "4K");
    assert_eq!(Size(1000).to_string(), "1000");
}
