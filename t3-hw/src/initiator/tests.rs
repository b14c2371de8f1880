use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::engine::EngineConfig;
use crate::ppm::{Ppm, PpmConfig};
use crate::tag::SW_TASK_LIMIT;

#[test]
fn a_housekeeping_itt_is_never_a_task_itt() {
    for ppmax in [1, 512, 1024, 8192, 65536, (1 << 23) - 1] {
        let mut ppm = Ppm::new(PpmConfig::new(ppmax, 4096)).unwrap();
        let mut tasks = HashSet::new();
        for task in (0..64).chain([0xffff, 0x1_0000, SW_TASK_LIMIT - 1]) {
            // Every generation of the task, and the wrap back to the first.
            for _ in 0..=256 {
                tasks.insert(ppm.reserve_itt(task, None).unwrap().itt);
            }
        }
        assert_eq!(tasks.len(), 67 * 256, "ppmax {ppmax}");
        for n in 0..=0xffff {
            let itt = housekeeping_itt(ppm.tag_format(), n).unwrap();
            assert!(!tasks.contains(&itt), "ppmax {ppmax}: {itt:#x}");
            assert!(!ppm.tag_format().is_ddp_tag(itt));
            assert_ne!(itt, RESERVED_TAG);
            assert!(ppm.task_of_itt(itt).is_err(), "{itt:#x} names no task");
        }
    }
}

fn engine() -> Engine {
    Engine::new(EngineConfig::new(PpmConfig::new(1024, 4096), 1 << 20)).unwrap()
}

fn open(engine: &mut Engine) -> IscsiConn {
    let login = LoginConfig::normal("iqn.2024-01.test:i", "iqn.2024-01.test:t", [0; 6]);
    IscsiConn::open(engine, 1, "192.0.2.1:3260".parse().unwrap(), login).unwrap()
}

#[test]
fn requests_before_the_login_are_refused_and_take_nothing() {
    let mut engine = engine();
    let mut conn = open(&mut engine);
    let tur = [0u8; 6];
    assert_eq!(
        conn.submit(&mut engine, 0, 0, &tur, Direction::None, 0),
        Err(RequestRefused::NotLoggedIn)
    );
    assert_eq!(conn.outstanding_tasks().count(), 0);
    assert_eq!(conn.ping(&mut engine), Err(RequestRefused::NotLoggedIn));
    assert_eq!(
        conn.lun_reset(&mut engine, 0),
        Err(RequestRefused::NotLoggedIn)
    );
    assert_eq!(
        conn.abort_task(&mut engine, 0),
        Err(RequestRefused::NoSuchTask { task: 0 })
    );
    assert_eq!(conn.logout(&mut engine), Err(RequestRefused::NotLoggedIn));
    // Refusals leave the connection as it was, and tell the owner nothing more.
    assert!(conn.poll_event().is_none());
    assert!(!conn.is_finished());
}

#[test]
fn a_failed_connect_arrives_as_an_event() {
    let mut engine = engine();
    let mut conn = open(&mut engine);
    let refused = Completion::ActOpenRpl {
        atid: 1,
        status: crate::cpl::CplStatus::ConnReset,
    };
    assert!(conn.owns(&refused));
    conn.handle(&mut engine, refused, &mut StdRng::seed_from_u64(0));
    assert_eq!(
        conn.poll_event(),
        Some(ConnEvent::Failed(ConnFailure::Connect {
            peer: conn.peer(),
            errno: libc::ECONNREFUSED,
        }))
    );
    assert!(conn.is_finished());
    assert_eq!(
        conn.submit(&mut engine, 0, 0, &[0u8; 6], Direction::None, 0),
        Err(RequestRefused::NotLoggedIn)
    );
}

#[test]
fn housekeeping_itts_wrap_after_2_16() {
    let format = TagFormat::new(1024).unwrap();
    let first = housekeeping_itt(&format, 0).unwrap();
    assert_ne!(first, housekeeping_itt(&format, 1).unwrap());
    assert_eq!(first, housekeeping_itt(&format, 0x1_0000).unwrap());
}
