//! A ublk device backed by an iSCSI LUN: created (or recovered), served until stopped,
//! removed.
//!
//! The control thread probes the LUN first (so a wrong URL or secret never creates a device),
//! creates the device, starts one thread per queue and waits for every queue's own login. Only
//! then does it let the queues fetch requests and start the device. After that it sleeps in
//! `sigtimedwait`: SIGTERM / SIGINT / SIGHUP stop the device (the kernel drains in-flight I/O
//! through the queues first), SIGUSR1 asks the queues for their counters. When every queue
//! thread has finished, the record is removed and the device deleted, unless it was stopped
//! from outside (STOP_DEV by a front end such as ublksrv's `ublk del`), which then deletes it
//! itself: see [`StopCause`].

pub(crate) mod error;
pub(crate) mod notify;
pub mod probe;

pub(crate) use error::DeviceError;
pub(crate) use notify::Notifier;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use iscsi_proto::url::{IscsiUrl, UrlError};
use libublk::ctrl::{UblkCtrl, UblkCtrlBuilder};
use libublk::io::UblkDev;
use libublk::{sys, UblkFlags};
use serde_json::json;

use crate::config::{self, CredentialLookup, Files, SecretSource};
use crate::daemon;
use crate::params::{self, DeviceParams};
use crate::pidfile::{self, DeviceRecord, QueueRecord, TargetRecord};
use crate::queue::{
    self, Ended, QueueReport, QueueTarget, StartGate, STATS_REQUESTS, STOP_REQUESTED,
};
use crate::service;
use crate::status::server::{socket_path, StatusServer, SOCKET_DIR};
use crate::status::DeviceStatus;
use crate::supervisor::TimeoutSettings;
use probe::Probed;

/// The ublksrv target name: `ublk add -t cxgb3i` execs `ublk.cxgb3i`.
pub const TARGET_NAME: &str = "cxgb3i";
/// The device flags a recovering daemon passes on (libublk refuses flags it does not know).
const RECOVERABLE_FLAGS: u32 = sys::UBLK_F_SUPPORT_ZERO_COPY
    | sys::UBLK_F_AUTO_BUF_REG
    | sys::UBLK_F_USER_RECOVERY
    | sys::UBLK_F_USER_RECOVERY_REISSUE;
/// How often the control thread looks at its queues while waiting for a signal.
const CONTROL_POLL: Duration = Duration::from_millis(200);

/// What `add` creates.
#[derive(Debug, Clone)]
pub(crate) struct DeviceSpec {
    /// -1: the kernel picks.
    pub dev_id: i32,
    pub nr_queues: u16,
    pub depth: u16,
    pub io_buf_bytes: u32,
    pub user_recovery: bool,
    pub user_recovery_reissue: bool,
    pub zero_copy: bool,
    pub url: IscsiUrl,
    pub initiator_name: String,
    pub timeouts: TimeoutSettings,
    /// The configuration file the device comes from (recorded for `recover`).
    pub config: Option<PathBuf>,
    /// Where the CHAP secrets came from (recorded, for `recover` to say where they are).
    pub secret_source: Option<SecretSource>,
    /// Where the ublksrv record goes (normally [`pidfile::RUN_DIR`]).
    pub run_dir: PathBuf,
}

/// Creates the device, serves it until it is stopped, removes it.
pub(crate) fn add(spec: DeviceSpec, notifier: &mut Notifier) -> Result<(), DeviceError> {
    // The device id is in every log line; before the kernel has picked one, the one asked
    // for (if any).
    let asked = (spec.dev_id >= 0).then(|| tracing::error_span!("dev", id = spec.dev_id).entered());
    // libublk's control deletes the device with the requested id when ADD_DEV fails, which
    // for EEXIST is somebody else's device: refuse a taken id before asking the kernel.
    if spec.dev_id >= 0 && Path::new(&format!("/sys/class/ublk-char/ublkc{}", spec.dev_id)).exists()
    {
        return Err(DeviceError::IdInUse(spec.dev_id));
    }
    let probed = probe::probe(&spec.url, &spec.initiator_name)?;
    let params = params::derive(&probed.lun, spec.io_buf_bytes)?;
    log_lun(&probed, &params);
    let zero_copy = spec.zero_copy && !probed.session.data_digest;
    if spec.zero_copy && !zero_copy {
        tracing::warn!("DataDigest was negotiated: zero copy is off, payload goes through copy buffers so it can be digested");
    }
    if zero_copy && !queue::every_read_gets_ddp(spec.depth, spec.io_buf_bytes) {
        return Err(DeviceError::ZeroCopyPods {
            depth: spec.depth,
            io_buf_bytes: spec.io_buf_bytes,
        });
    }
    let mut ctrl_flags = 0u64;
    if zero_copy {
        ctrl_flags |= u64::from(sys::UBLK_F_SUPPORT_ZERO_COPY | sys::UBLK_F_AUTO_BUF_REG);
    }
    if spec.user_recovery {
        ctrl_flags |= u64::from(sys::UBLK_F_USER_RECOVERY);
        if spec.user_recovery_reissue {
            ctrl_flags |= u64::from(sys::UBLK_F_USER_RECOVERY_REISSUE);
        }
    }
    // From device creation on, termination signals wait for the control loop, which removes
    // the device; queue threads inherit the mask.
    daemon::block_control_signals();
    let ctrl = UblkCtrlBuilder::default()
        .name(TARGET_NAME)
        .id(spec.dev_id)
        .nr_queues(spec.nr_queues)
        .depth(spec.depth)
        .io_buf_bytes(spec.io_buf_bytes)
        .ctrl_flags(ctrl_flags)
        .dev_flags(UblkFlags::UBLK_DEV_F_ADD_DEV)
        .build()
        .map_err(|error| DeviceError::create(spec.dev_id, error))?;
    // No secret goes into the record: ublksrv's `ublk list` prints it as it is.
    let url_without_secrets = spec
        .url
        .to_string_without_secrets()
        .map_err(DeviceError::Url)?;
    let record = TargetRecord {
        name: TARGET_NAME.into(),
        target_type: TARGET_NAME.into(),
        dev_size: params.capacity_bytes,
        url: url_without_secrets,
        initiator_name: spec.initiator_name.clone(),
        zero_copy,
        timeouts: spec.timeouts,
        device_id: probed.lun.device_id.clone(),
        config: spec.config.clone(),
        secret_source: spec.secret_source,
    };
    let target = Arc::new(QueueTarget {
        dev_id: ctrl.dev_info().dev_id,
        url: spec.url.clone(),
        portals: probed.portals.clone(),
        initiator_name: spec.initiator_name.clone(),
        lun: probe::wire_lun(spec.url.lun)?,
        geometry: params.geometry(),
        caps: params.caps,
        zero_copy,
        timeouts: spec.timeouts.timeouts(),
        device_id: probed.lun.device_id.clone(),
        capacity_bytes: params.capacity_bytes,
        serve_before_login: false,
    });
    drop(asked);
    let _device = tracing::error_span!("dev", id = target.dev_id).entered();
    // From here on the device exists: any failure deletes it (explicitly, and the control's
    // drop would too).
    let result = run(&ctrl, &params, target, &record, &spec.run_dir, notifier);
    finish(&ctrl, &result, &spec.run_dir);
    result.map(drop)
}

/// After the device has stopped (or failed to start): deletes it unless it was stopped from
/// outside (see [`StopCause`]), and removes its record.
fn finish(ctrl: &UblkCtrl, result: &Result<StopCause, DeviceError>, run_dir: &Path) {
    let dev_id = ctrl.dev_info().dev_id;
    if let Ok(StopCause::Outside) = result {
        ctrl.disown();
        // libublk's own JSON of the device: whoever deletes the device may not know of it.
        let _ = std::fs::remove_file(ctrl.run_path());
    } else if let Err(error) = ctrl.del_dev() {
        tracing::debug!(?error, "device already deleted");
    }
    remove_record(run_dir, dev_id);
}

/// Removes the device's ublksrv record. Only once the device is deleted (or left to whoever
/// stopped it): `ublk del` waits while the record names a live daemon, so its own DEL_DEV
/// does not race ours.
fn remove_record(run_dir: &Path, dev_id: u32) {
    let record_path = pidfile::path(run_dir, dev_id);
    if let Err(error) = std::fs::remove_file(&record_path) {
        tracing::debug!(path = %record_path.display(), %error, "record already gone");
    }
}

/// The recorded URL with its CHAP secrets, which the record does not hold: from
/// LIBISCSI_CHAP_*, then `config` (else the configuration file the device was created with),
/// then the defaults file.
fn recorded_url(
    dev_id: u32,
    record: &TargetRecord,
    config: Option<&Path>,
) -> Result<IscsiUrl, DeviceError> {
    let files = Files::load_in(&config::dir(), config.or(record.config.as_deref()))?;
    let env = |name: &str| std::env::var(name).ok();
    let lookup = CredentialLookup::new(None, &env, &files);
    IscsiUrl::parse_with_env(&record.url, |name| lookup.get(name)).map_err(|error| {
        match error.reason {
            UrlError::MissingChapPassword { role } => DeviceError::RecoverSecret {
                dev_id,
                role,
                given_by: record.secret_source,
            },
            _ => DeviceError::RecordUrl(error.to_string()),
        }
    })
}

/// Brings a device created with `-r 1` back after its daemon died: reads the record the old
/// daemon left, logs in again (with the CHAP secrets from `config`, the device's own
/// configuration file or the environment), and re-attaches the queues
/// (START_USER_RECOVERY).
pub(crate) fn recover(
    dev_id: u32,
    run_dir: &Path,
    config: Option<&Path>,
    notifier: &mut Notifier,
) -> Result<(), DeviceError> {
    let _device = tracing::error_span!("dev", id = dev_id).entered();
    let record_path = pidfile::path(run_dir, dev_id);
    let old = DeviceRecord::read(&record_path)?;
    let record = old.target(&record_path)?;
    let url = recorded_url(dev_id, &record, config)?;
    // A target that cannot be reached now does not keep the device's I/O waiting without a
    // daemon: the queues start anyway, hold what arrives, fail it past the replacement
    // timeout and keep logging in. What is wrong for good (credentials, the LU) still fails.
    let probed = match probe::probe(&url, &record.initiator_name) {
        Ok(probed) => Some(probed),
        Err(failure) => {
            let error = DeviceError::Probe(failure);
            if error.is_permanent() {
                return Err(error);
            }
            tracing::warn!(%error, "the target does not answer: recovering with the device's own parameters; I/O is held until a session is up");
            None
        }
    };
    let id = i32::try_from(dev_id).map_err(|_| DeviceError::NotRecoverable(dev_id))?;
    // libublk sizes its per-queue tables from the builder, not from the kernel: ask first.
    let existing =
        UblkCtrl::new_simple(id).map_err(|error| DeviceError::control("open the device", error))?;
    let info = existing.dev_info();
    let mut own_params = sys::ublk_params::default();
    existing
        .get_params(&mut own_params)
        .map_err(|error| DeviceError::control("read the device's parameters", error))?;
    drop(existing);
    let ctrl = UblkCtrlBuilder::default()
        .name(TARGET_NAME)
        .id(id)
        .nr_queues(info.nr_hw_queues)
        .depth(info.queue_depth)
        .io_buf_bytes(info.max_io_buf_bytes)
        .ctrl_flags(info.flags & u64::from(RECOVERABLE_FLAGS))
        .dev_flags(UblkFlags::UBLK_DEV_F_RECOVER_DEV)
        .build()
        .map_err(|error| DeviceError::control("open the device", error))?;
    if info.flags & u64::from(sys::UBLK_F_USER_RECOVERY) == 0 {
        return Err(DeviceError::NotRecoverable(dev_id));
    }
    let zero_copy = info.flags & u64::from(sys::UBLK_F_AUTO_BUF_REG) != 0;
    let (params, portals) = match &probed {
        Some(probed) => {
            let params = params::derive(&probed.lun, info.max_io_buf_bytes)?;
            check_same_lu(&record, probed, &params)?;
            if zero_copy && probed.session.data_digest {
                return Err(DeviceError::ZeroCopyWithDigest);
            }
            (params, probed.portals.clone())
        }
        None => (
            DeviceParams::from_ublk(&own_params),
            probe::resolve(&url).unwrap_or_default(),
        ),
    };
    daemon::block_control_signals();
    ctrl.start_user_recover()
        .map_err(|error| DeviceError::control("start user recovery", error))?;
    let target = Arc::new(QueueTarget {
        dev_id,
        url: url.clone(),
        portals,
        initiator_name: record.initiator_name.clone(),
        lun: probe::wire_lun(url.lun)?,
        geometry: params.geometry(),
        caps: params.caps,
        zero_copy,
        timeouts: record.timeouts.timeouts(),
        device_id: record.device_id.clone(),
        capacity_bytes: record.dev_size,
        serve_before_login: probed.is_none(),
    });
    let result = run(&ctrl, &params, target, &record, run_dir, notifier);
    // A recovery that failed leaves the device quiesced, with its record, for another try.
    if result.is_ok() {
        finish(&ctrl, &result, run_dir);
    }
    result.map(drop)
}

/// `recover` must find the LU the device was made on (VPD 0x83); a changed capacity is only
/// worth a warning (the queues' LU check resizes the device).
fn check_same_lu(
    record: &TargetRecord,
    probed: &Probed,
    params: &DeviceParams,
) -> Result<(), DeviceError> {
    if record.device_id.is_some() && probed.lun.device_id != record.device_id {
        return Err(DeviceError::WrongLu {
            expected: record.device_id.clone().unwrap_or_default(),
            found: probed
                .lun
                .device_id
                .clone()
                .unwrap_or_else(|| "none".into()),
        });
    }
    if params.capacity_bytes != record.dev_size {
        tracing::warn!(
            was = record.dev_size,
            now = params.capacity_bytes,
            "the LUN's capacity changed since the device was created"
        );
    }
    Ok(())
}

fn log_lun(probed: &Probed, params: &DeviceParams) {
    let lun = &probed.lun;
    tracing::info!(
        vendor = %lun.vendor,
        product = %lun.product,
        block_size = lun.logical_block_size,
        capacity = lun.capacity_bytes(),
        max_io = params.max_io_bytes,
        write_cache = lun.write_cache,
        fua = params.fua,
        unmap = params.caps.unmap,
        write_same = params.caps.write_same.is_some(),
        read_only = lun.read_only,
        "LUN probed"
    );
}

/// Queue threads, start, serve, stop. The caller deletes the device afterwards, or leaves it
/// to whoever stopped it (see [`StopCause`]).
fn run(
    ctrl: &UblkCtrl,
    params: &DeviceParams,
    target: Arc<QueueTarget>,
    record: &TargetRecord,
    run_dir: &Path,
    notifier: &mut Notifier,
) -> Result<StopCause, DeviceError> {
    let ublk_params = params.to_ublk();
    let depth = ctrl.dev_info().queue_depth;
    let dev = UblkDev::new(
        TARGET_NAME.to_owned(),
        |dev: &mut UblkDev| {
            dev.tgt.dev_size = params.capacity_bytes;
            dev.tgt.params = ublk_params;
            // Each request can need a few socket operations besides its commit; the engine
            // keeps one receive and up to 16 linked sends per connection in flight.
            dev.tgt.sq_depth = depth.saturating_add(64);
            dev.tgt.cq_depth = depth.saturating_mul(2).saturating_add(128);
            dev.set_target_json(json!({
                "url": record.url,
                "initiator_name": target.initiator_name,
                "zero_copy": target.zero_copy,
            }));
            Ok(())
        },
        ctrl,
    )
    .map_err(|error| DeviceError::control("set up the device", error))?;
    let dev = Arc::new(dev);
    let nr_queues = dev.dev_info.nr_hw_queues;
    let status = Arc::new(DeviceStatus::new(target.dev_id, nr_queues));
    // `ublk list` asks this thread for the sessions' state and counters. A device without
    // it still serves.
    let _status_server = match StatusServer::start(
        &socket_path(Path::new(SOCKET_DIR), target.dev_id),
        Arc::clone(&status),
    ) {
        Ok(server) => {
            tracing::debug!(path = %server.path().display(), "status socket ready");
            Some(server)
        }
        Err(error) => {
            tracing::warn!(%error, "no live status for ublk list");
            None
        }
    };
    let gate = StartGate::new();
    let (reports_tx, reports) = mpsc::channel();
    let mut threads = Vec::new();
    for qid in 0..nr_queues {
        let (dev, target, status, queue_gate, reports_tx) = (
            Arc::clone(&dev),
            Arc::clone(&target),
            Arc::clone(&status),
            Arc::clone(&gate),
            reports_tx.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("ublk-q{qid}"))
            .spawn(move || queue::run_queue(qid, &dev, target, status, &queue_gate, &reports_tx));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(error) => {
                gate.decide(false);
                join(threads);
                return Err(DeviceError::Thread(error));
            }
        }
    }
    drop(reports_tx);

    let mut queue_tids = vec![0; usize::from(nr_queues)];
    let resized = match wait_for_logins(ctrl, &dev, &reports, &mut queue_tids) {
        Ok(resized) => resized,
        Err(error) => {
            gate.decide(false);
            join(threads);
            return Err(error);
        }
    };
    gate.decide(true);
    if let Err(error) = ctrl.start_dev(&dev) {
        // Queues that fetched are released by the stop; the others never started.
        let _ = ctrl.kill_dev();
        join(threads);
        return Err(DeviceError::control("start the device", error));
    }
    if let Some((qid, bytes)) = resized {
        resize(ctrl, qid, bytes);
    }
    let dev_id = ctrl.dev_info().dev_id;
    let record_path = pidfile::path(run_dir, dev_id);
    if let Err(error) = write_record(ctrl, &queue_tids, record, &record_path) {
        tracing::error!(path = %record_path.display(), %error, "cannot write the device record");
    }
    tracing::info!(dev_id, queues = nr_queues, depth, zero_copy = target.zero_copy, url = %target.url, "device is live: /dev/ublkb{dev_id}");
    notifier.live(dev_id);

    let cause = supervise(ctrl, &reports, &status, usize::from(nr_queues));
    join(threads);
    drop(dev);
    Ok(cause)
}

/// Collects thread ids (setting affinity and libublk's JSON as they arrive) until every queue
/// has logged in, or one has failed. Returns the capacity a queue found, if it is not the
/// device's (a LUN resized before `recover`): the device is resized once it runs.
fn wait_for_logins(
    ctrl: &UblkCtrl,
    dev: &UblkDev,
    reports: &Receiver<QueueReport>,
    queue_tids: &mut [i32],
) -> Result<Option<(u16, u64)>, DeviceError> {
    let mut logged_in = 0;
    let mut resized = None;
    while logged_in < queue_tids.len() {
        match reports.recv() {
            Ok(QueueReport::Started { qid, tid }) => {
                ctrl.set_thread_affinity(qid, tid);
                if let Err(error) = ctrl.configure_queue(dev, qid, tid) {
                    tracing::warn!(queue = qid, ?error, "cannot record the queue");
                }
                if let Some(slot) = queue_tids.get_mut(usize::from(qid)) {
                    *slot = tid;
                }
            }
            Ok(QueueReport::LoggedIn) => logged_in += 1,
            Ok(QueueReport::CapacityChanged { qid, bytes }) => resized = Some((qid, bytes)),
            Ok(QueueReport::Failed { qid, error }) => {
                return Err(DeviceError::QueueLogin { qid, error })
            }
            Ok(QueueReport::Finished { qid, .. }) => return Err(DeviceError::QueueEnded(qid)),
            Err(_) => return Err(DeviceError::QueuesGone),
        }
    }
    Ok(resized)
}

/// Who stopped a device that was serving: it decides who deletes it.
///
/// The rule (ublksrv's): whoever stops a device deletes it.
/// - [`StopCause::Daemon`]: the daemon itself decided to stop, on SIGTERM / SIGINT / SIGHUP
///   (our `ublk del` signals the daemon first) or because a queue gave up on its own. Nobody
///   else will send DEL_DEV, so the daemon deletes the device.
/// - [`StopCause::Outside`]: the kernel took the queues down without the daemon having asked
///   or been signalled: a front end sent STOP_DEV (ublksrv's `ublk del` does, waits for the
///   daemon's pid to exit, then sends DEL_DEV itself and fails with ENODEV if the device is
///   already gone). The daemon leaves the device alone: it disowns its control (libublk
///   would delete the device when it drops), removes its record and exits, and the front end
///   deletes the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopCause {
    Daemon,
    Outside,
}

/// Waits until every queue thread has finished, stopping the device on a termination
/// signal. Says who stopped it.
fn supervise(
    ctrl: &UblkCtrl,
    reports: &Receiver<QueueReport>,
    status: &DeviceStatus,
    nr_queues: usize,
) -> StopCause {
    let mut finished = 0;
    let mut cause = None;
    let mut health = HealthLog::default();
    let stop = |cause: &mut Option<StopCause>| {
        tracing::info!("stopping the device: draining in-flight I/O");
        service::notify_stopping();
        status.set_stopping();
        *cause = Some(StopCause::Daemon);
        STOP_REQUESTED.store(true, Ordering::Relaxed);
        if let Err(error) = ctrl.kill_dev() {
            tracing::error!(?error, "cannot stop the device");
        }
    };
    while finished < nr_queues {
        health.update(ctrl.dev_info().dev_id, &status.summary());
        match daemon::wait_control_signal(CONTROL_POLL) {
            Some(daemon::ControlSignal::Stop) if cause.is_none() => stop(&mut cause),
            Some(daemon::ControlSignal::Stats) => {
                STATS_REQUESTS.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        while let Ok(report) = reports.try_recv() {
            match report {
                QueueReport::Finished { qid, stats, ended } => {
                    finished += 1;
                    tracing::debug!(queue = qid, ?stats, ?ended, "queue finished");
                    if cause.is_some() {
                        continue;
                    }
                    // A signal sent just before the stop (our `ublk del` signals, then sends
                    // STOP_DEV) makes it the daemon's own.
                    let signalled = match daemon::wait_control_signal(Duration::ZERO) {
                        Some(daemon::ControlSignal::Stop) => true,
                        Some(daemon::ControlSignal::Stats) => {
                            STATS_REQUESTS.fetch_add(1, Ordering::Relaxed);
                            false
                        }
                        None => false,
                    };
                    if ended == Ended::ByKernel && !signalled {
                        tracing::info!(
                            "the device was stopped from outside: leaving its deletion to whoever stopped it"
                        );
                        cause = Some(StopCause::Outside);
                    } else {
                        // A queue that ends on its own takes the device down with it.
                        stop(&mut cause);
                    }
                }
                QueueReport::Failed { qid, error } => {
                    tracing::error!(queue = qid, %error, "queue failed");
                }
                QueueReport::CapacityChanged { qid, bytes } => resize(ctrl, qid, bytes),
                _ => {}
            }
        }
    }
    cause.unwrap_or(StopCause::Daemon)
}

/// Logs the device's health line when its kind changes ("serving" → "reconnecting" and
/// back): one line per change, not one per second of an outage. systemd (`Type=notify`) gets
/// every change of the line as STATUS=, which `systemctl status` shows.
#[derive(Debug, Default)]
struct HealthLog {
    kind: String,
    line: String,
}

impl HealthLog {
    fn update(&mut self, dev_id: u32, summary: &str) {
        let kind = summary.split(':').next().unwrap_or_default();
        if kind != self.kind {
            tracing::info!("device status: {summary}");
            self.kind = kind.to_owned();
        }
        if summary != self.line {
            service::notify_status(&format!("/dev/ublkb{dev_id}: {summary}"));
            self.line = summary.to_owned();
        }
    }
}

/// UPDATE_SIZE, once per new size (every queue reports the change it sees).
fn resize(ctrl: &UblkCtrl, qid: u16, bytes: u64) {
    let mut params = sys::ublk_params::default();
    if ctrl.get_params(&mut params).is_ok() && params.basic.dev_sectors << 9 == bytes {
        return;
    }
    match ctrl.update_size(bytes) {
        Ok(_) => tracing::warn!(queue = qid, bytes, "device resized to the LU's capacity"),
        Err(error) => tracing::error!(queue = qid, bytes, ?error, "cannot resize the device"),
    }
}

fn join(threads: Vec<JoinHandle<()>>) {
    for thread in threads {
        if thread.join().is_err() {
            tracing::error!("a queue thread panicked");
        }
    }
}

fn write_record(
    ctrl: &UblkCtrl,
    queue_tids: &[i32],
    target: &TargetRecord,
    path: &Path,
) -> std::io::Result<()> {
    ctrl.read_dev_info()
        .map_err(|error| std::io::Error::other(format!("{error:?}")))?;
    let mut params = sys::ublk_params::default();
    ctrl.get_params(&mut params)
        .map_err(|error| std::io::Error::other(format!("{error:?}")))?;
    let queues: Vec<QueueRecord> = queue_tids
        .iter()
        .enumerate()
        .map(|(qid, &tid)| QueueRecord {
            qid: qid as u16,
            tid,
            affinity: pidfile::affinity_string(daemon::thread_cpus(tid)),
        })
        .collect();
    DeviceRecord::new(
        std::process::id() as i32,
        &ctrl.dev_info(),
        &params,
        &queues,
        target,
    )
    .write(path)
}
