//! Sense data and the SCSI response parsers a target controls.
#![no_main]
use iscsi_proto::scsi;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sense) = scsi::Sense::parse(data) {
        let _ = sense.to_string();
        let _ = sense.action();
        let _ = sense.block_error().errno();
    }
    let _ = scsi::StandardInquiry::parse(data);
    let _ = scsi::ReadCapacity16::parse(data);
    let _ = scsi::BlockLimits::parse(data);
    let _ = scsi::DeviceIdentification::parse(data);
    let _ = scsi::ModeParameters::parse(data).map(|m| m.caching());
});
