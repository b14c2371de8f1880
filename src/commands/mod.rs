//! The engine's own command-line tools: discovery, LUN probe, load generator.

pub(crate) mod discover;
pub(crate) mod perf;
pub(crate) mod probe;

use std::time::Duration;

use t3_hw::initiator::Client;
use t3_hw::{EngineConfig, PpmConfig};
use ublk_target::login::MAX_RECV_DATA_SEGMENT_LENGTH;

/// How long a login or a single command may take before the tool gives up.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

/// Page pods of a tool's engine: 8192 pods of 16 KiB reach cover 128 MiB of reads in flight.
const PPMAX: u32 = 8192;

/// An engine client sized for `tasks` task buffers of `task_len` bytes, receiving PDUs as
/// large as a device's login declares (discovery declares less).
pub(crate) fn client(tasks: usize, task_len: usize, ring_entries: u32) -> anyhow::Result<Client> {
    let config = EngineConfig::new(PpmConfig::new(PPMAX, 4096), MAX_RECV_DATA_SEGMENT_LENGTH);
    let mut client = Client::new(config, ring_entries)?;
    client.add_tasks(tasks, task_len);
    Ok(client)
}
