//! Whole-PDU decoding with every digest setting; whatever decodes must re-encode to the same.
#![no_main]
use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{decode_pdu, encode_pdu};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let digests = Digests {
        header: flags & 1 != 0,
        data: flags & 2 != 0,
    };
    if let Ok(Some((pdu, used))) = decode_pdu(bytes, digests, 1 << 20) {
        assert!(used <= bytes.len());
        let again = encode_pdu(&pdu, digests).expect("a decoded PDU re-encodes");
        let (back, _) = decode_pdu(&again, digests, 1 << 20)
            .expect("re-encoded PDU decodes")
            .expect("complete");
        assert_eq!(back, pdu);
    }
});
