//! `discover HOST[:PORT]`: SendTargets=All on a discovery session, like
//! `iscsiadm -m discovery -t st`.

use anyhow::{anyhow, bail};
use iscsi_proto::discovery::{parse_send_targets_response, send_targets_request};
use iscsi_proto::session::Event;
use iscsi_proto::url::Portal;
use t3_hw::initiator::ConnEvent;

use super::{client, TIMEOUT};
use crate::login::{discovery_session, resolve};

pub(crate) fn run(portal: &str, initiator_name: &str, json: bool) -> anyhow::Result<()> {
    let portal = Portal::parse(portal).map_err(|e| anyhow!("{e}"))?;
    let addr = resolve(&portal.host, portal.port)?;
    let mut client = client(1, 4096, 64)?;
    let conn = client.login(addr, discovery_session(initiator_name), TIMEOUT)?;
    let (session, engine) = client
        .conn_mut(conn)
        .ok_or_else(|| anyhow!("discovery connection vanished"))?;
    let itt = session.text_request(engine, &send_targets_request())?;
    let pairs = loop {
        match client.wait_event(TIMEOUT)? {
            (_, ConnEvent::Session(Event::TextResponse { itt: got, pairs })) if got == itt => {
                break pairs
            }
            (_, ConnEvent::Failed(error)) => bail!("discovery on {addr}: {error}"),
            _ => {}
        }
    };
    client.logout_all(TIMEOUT)?;
    let targets = parse_send_targets_response(&pairs)?;
    if json {
        let list: Vec<_> = targets
            .iter()
            .map(|t| {
                serde_json::json!({
                    "target": t.name,
                    "portals": t.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for target in &targets {
        if target.addresses.is_empty() {
            println!("{portal},-1 {}", target.name);
        }
        for address in &target.addresses {
            println!("{address} {}", target.name);
        }
    }
    Ok(())
}
