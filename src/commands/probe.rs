//! `probe URL`: log in, read what the LUN is, print it. The same probe `add` makes: each
//! address of the host in turn, login redirection followed.

use t3_hw::initiator::probe::LunInfo;
use ublk_target::device::probe::{probe, Probed};

use crate::login::parse_url;
use crate::size::Size;

pub(crate) fn run(url: &str, initiator_name: &str, json: bool) -> anyhow::Result<()> {
    let url = parse_url(url)?;
    let Probed {
        lun: info,
        session: params,
        ..
    } = probe(&url, initiator_name)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&url.to_string(), &info, &params))?
        );
    } else {
        print_human(&url.to_string(), &info, &params);
    }
    Ok(())
}

fn to_json(
    url: &str,
    info: &LunInfo,
    params: &iscsi_proto::negotiation::SessionParams,
) -> serde_json::Value {
    serde_json::json!({
        "url": url,
        "vendor": info.vendor,
        "product": info.product,
        "revision": info.revision,
        "serial": info.serial,
        "device_id": info.device_id,
        "capacity_bytes": info.capacity_bytes(),
        "blocks": info.blocks,
        "logical_block_size": info.logical_block_size,
        "physical_block_size": info.physical_block_size,
        "max_transfer_bytes": info.max_transfer_bytes,
        "optimal_transfer_bytes": info.optimal_transfer_bytes,
        "thin_provisioned": info.thin_provisioned,
        "unmap": info.unmap.map(|u| serde_json::json!({
            "max_blocks": u.max_blocks,
            "max_descriptors": u.max_descriptors,
            "granularity_blocks": u.granularity,
            "alignment_blocks": u.alignment,
        })),
        "write_same": info.write_same.map(|w| serde_json::json!({
            "max_blocks": w.max_blocks,
            "unmap": w.unmap,
            "ndob": w.ndob,
        })),
        "write_cache": info.write_cache,
        "fua": info.fua,
        "read_only": info.read_only,
        "rotational": info.rotational,
        "session": {
            "header_digest": params.header_digest,
            "data_digest": params.data_digest,
            "max_burst_length": params.max_burst_length,
            "first_burst_length": params.first_burst_length,
            "immediate_data": params.immediate_data,
            "initial_r2t": params.initial_r2t,
            "target_max_recv_data_segment_length": params.max_xmit_data_segment_length,
        },
    })
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn print_human(url: &str, info: &LunInfo, params: &iscsi_proto::negotiation::SessionParams) {
    println!("{url}");
    println!(
        "  vendor/product:   {} {} ({})",
        info.vendor, info.product, info.revision
    );
    if let Some(serial) = &info.serial {
        println!("  serial:           {serial}");
    }
    if let Some(id) = &info.device_id {
        println!("  device id:        {id}");
    }
    println!(
        "  capacity:         {} ({} blocks of {} bytes)",
        Size(info.capacity_bytes()),
        info.blocks,
        info.logical_block_size
    );
    println!("  physical block:   {} bytes", info.physical_block_size);
    match info.max_transfer_bytes {
        Some(max) => println!("  max transfer:     {}", Size(max)),
        None => println!("  max transfer:     not stated"),
    }
    println!(
        "  thin provisioned: {}{}",
        yes_no(info.thin_provisioned),
        match info.unmap {
            Some(u) => format!(" (UNMAP: up to {} descriptors)", u.max_descriptors),
            None => String::new(),
        }
    );
    println!(
        "  write same:       {}",
        match info.write_same {
            Some(w) => format!("yes (NDOB: {})", yes_no(w.ndob)),
            None => "no".into(),
        }
    );
    println!("  write cache:      {}", yes_no(info.write_cache));
    println!("  FUA:              {}", yes_no(info.fua));
    println!("  read-only:        {}", yes_no(info.read_only));
    println!(
        "  rotational:       {}",
        info.rotational.map_or("unknown", yes_no)
    );
    println!(
        "  session:          HeaderDigest {} DataDigest {} MaxBurst {} FirstBurst {} target MRDSL {}",
        if params.header_digest { "CRC32C" } else { "None" },
        if params.data_digest { "CRC32C" } else { "None" },
        Size(u64::from(params.max_burst_length)),
        Size(u64::from(params.first_burst_length)),
        Size(u64::from(params.max_xmit_data_segment_length)),
    );
}
