use super::{join_lu_params, parse_key_value_lines};

#[test]
fn lu_params_are_comma_joined() {
    let joined =
        join_lu_params(&[("thin_provisioning", "1"), ("readonly", "0")]).expect("valid params");
    assert_eq!(joined, "thin_provisioning=1,readonly=0");
}

#[test]
fn lu_params_tgtadm_would_misparse_are_rejected() {
    for bad in [("", "1"), ("a,b", "1"), ("a=b", "1"), ("key", "1,2")] {
        let error = join_lu_params(&[bad]).expect_err("must be rejected");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
}

#[test]
fn target_params_parse_tgtadm_listing() {
    let listing = "MaxRecvDataSegmentLength=8192\nHeaderDigest=None\n\nInitialR2T=Yes\n";
    let params = parse_key_value_lines(listing).expect("well-formed");
    assert_eq!(params.len(), 3);
    assert_eq!(params["MaxRecvDataSegmentLength"], "8192");
    assert_eq!(params["HeaderDigest"], "None");
    assert_eq!(params["InitialR2T"], "Yes");
}

#[test]
fn target_params_reject_lines_without_equals() {
    assert!(parse_key_value_lines("Target 1: iqn.x\n").is_err());
}
