//! Text key=value parsing, C-bit reassembly and the negotiator on arbitrary target text.
#![no_main]
use iscsi_proto::negotiation::{Negotiator, OperationalConfig, SessionType};
use iscsi_proto::text::{self, TextAssembler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = text::parse(data) {
        let encoded = text::encode(&pairs).expect("parsed pairs re-encode");
        assert_eq!(text::parse(&encoded).expect("round trip"), pairs);
        if let Ok(mut negotiator) = Negotiator::new(OperationalConfig::default(), SessionType::Normal) {
            let _ = negotiator.handle_target_pairs(&pairs);
            let _ = negotiator.finish();
        }
        let _ = iscsi_proto::discovery::parse_send_targets_response(&pairs);
    }
    let mut assembler = TextAssembler::with_limit(4096);
    for (i, chunk) in data.chunks(7).enumerate() {
        let _ = assembler.push(chunk, i % 3 != 2);
    }
});
