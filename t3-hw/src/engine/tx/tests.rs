use super::*;
use crate::credits::WR_MAX_CREDITS;
use crate::engine::task_buffer::TaskBuffer;
use crate::tid::Tid;
use crate::wr::{PduRef, UlpSubmode, BHS_LEN};
use iscsi_proto::pdu::padded;

fn header(data_len: u32) -> Vec<u8> {
    let mut bhs = vec![0u8; BHS_LEN];
    bhs[0] = 0x05; // Data-Out
    bhs[5..8].copy_from_slice(&data_len.to_be_bytes()[1..]);
    bhs
}

fn tx(payload: Payload, digests: UlpSubmode) -> TxData {
    let len = payload.len() as u32;
    let pdu = PduRef::new(header(len), payload).unwrap();
    TxData::new(Tid::new(1).unwrap(), pdu, digests, false)
}

fn both() -> UlpSubmode {
    UlpSubmode {
        header_digest: true,
        data_digest: true,
    }
}

#[test]
fn gather_list_is_byte_exact_with_digests() {
    let mut task_memory: Vec<u8> = (0..100u8).collect();
    let mut tasks = TaskBuffers::default();
    tasks.insert(
        7,
        TaskBuffer::Mapped {
            ptr: task_memory.as_mut_ptr(),
            len: 100,
        },
    );
    let task = TxPdu::new(
        tx(
            Payload::Task {
                task: 7,
                offset: 10,
                len: 5,
            },
            both(),
        ),
        &tasks,
    )
    .unwrap();
    let inline = TxPdu::new(tx(Payload::Inline(vec![9; 8]), both()), &tasks).unwrap();
    let bare = TxPdu::new(tx(Payload::None, both()), &tasks).unwrap();
    let mut queue: VecDeque<TxPdu> = [task, inline, bare].into_iter().collect();
    let mut credits = WrCredits::default();
    let mut batch = TxBatch::new();
    let stalled = batch.fill(&mut queue, &mut credits, 1 << 20).unwrap();
    assert!(!stalled);
    assert_eq!(batch.pdus.len(), 3);
    assert_eq!(batch.ops.len(), 1, "all mapped: one SENDMSG");

    let mut expected = Vec::new();
    for (data, h) in [
        (task_memory[10..15].to_vec(), header(5)),
        (vec![9; 8], header(8)),
        (vec![], header(0)),
    ] {
        expected.extend_from_slice(&h);
        expected.extend_from_slice(&to_wire(crc32c(&h)));
        if !data.is_empty() {
            let mut padded_data = data.clone();
            padded_data.resize(padded(data.len()), 0);
            expected.extend_from_slice(&padded_data);
            expected.extend_from_slice(&to_wire(crc32c(&padded_data)));
        }
    }
    assert_eq!(batch.wire_image(), expected);
    assert_eq!(batch.bytes, expected.len() as u64);
    assert_eq!(credits.available(), WR_MAX_CREDITS - 3);
}

/// Task 1: 8 KiB of fixed buffer 4 at 0x1000.
fn fixed_task() -> TaskBuffers {
    let mut tasks = TaskBuffers::default();
    tasks.insert(
        1,
        TaskBuffer::Fixed {
            buf_index: 4,
            base: 0x1000,
            len: 8192,
        },
    );
    tasks
}

#[test]
fn fixed_payload_becomes_a_write_fixed_between_sendmsgs() {
    let tasks = fixed_task();
    let payload = Payload::Task {
        task: 1,
        offset: 512,
        len: 1022,
    };
    let header_only = UlpSubmode {
        header_digest: true,
        data_digest: false,
    };
    let pdu = TxPdu::new(tx(payload.clone(), header_only), &tasks).unwrap();
    let batch = batch_of(pdu);
    let kinds: Vec<String> = batch
        .ops
        .iter()
        .map(|op| format!("{:?}", op.kind))
        .collect();
    assert_eq!(batch.ops.len(), 3, "{kinds:?}");
    assert_eq!(batch.ops[0].remaining, 52);
    assert!(matches!(
        batch.ops[1].kind,
        TxOpKind::WriteFixed {
            buf_index: 4,
            addr: 0x1200
        }
    ));
    assert_eq!(batch.ops[1].remaining, 1022);
    assert_eq!(batch.ops[2].remaining, 2, "padding");
    // The header waits (MSG_MORE) for the payload only when both are in one chain.
    assert!(batch.fixed_payload_follows(0, 3));
    assert!(
        !batch.fixed_payload_follows(0, 1),
        "payload in the next chain"
    );
    assert!(!batch.fixed_payload_follows(1, 3));
    assert!(!batch.fixed_payload_follows(2, 3), "last op");

    let refused = TxPdu::new(tx(payload, both()), &tasks);
    assert!(matches!(
        refused,
        Err(PostError::TaskBuffer(
            TaskBufferError::FixedWithDataDigest {
                task: 1,
                buf_index: 4
            }
        ))
    ));
}

#[test]
fn task_payload_outside_the_buffer_is_refused() {
    let mut memory = vec![0u8; 64];
    let mut tasks = TaskBuffers::default();
    tasks.insert(
        1,
        TaskBuffer::Mapped {
            ptr: memory.as_mut_ptr(),
            len: 64,
        },
    );
    let payload = Payload::Task {
        task: 1,
        offset: 60,
        len: 8,
    };
    assert!(matches!(
        TxPdu::new(tx(payload, UlpSubmode::default()), &tasks),
        Err(PostError::TaskBuffer(TaskBufferError::OutOfRange {
            task: 1,
            ..
        }))
    ));
}

#[test]
fn credit_stall_leaves_requests_queued() {
    let tasks = TaskBuffers::default();
    let mut queue: VecDeque<TxPdu> = (0..20)
        .map(|_| TxPdu::new(tx(Payload::None, UlpSubmode::default()), &tasks).unwrap())
        .collect();
    let mut credits = WrCredits::default();
    let mut batch = TxBatch::new();
    let stalled = batch.fill(&mut queue, &mut credits, 1 << 20).unwrap();
    assert!(stalled);
    assert_eq!(batch.pdus.len(), usize::from(WR_MAX_CREDITS));
    assert_eq!(queue.len(), 5);
    assert_eq!(
        TxBatch::new().fill(&mut queue, &mut credits, 1 << 20).err(),
        Some(NoBatch::CreditStall)
    );
    assert_eq!(queue.len(), 5);
}

#[test]
fn short_send_resumes_mid_iovec() {
    let tasks = TaskBuffers::default();
    let mut queue: VecDeque<TxPdu> = (0..2)
        .map(|i| {
            TxPdu::new(
                tx(Payload::Inline(vec![i; 100]), UlpSubmode::default()),
                &tasks,
            )
            .unwrap()
        })
        .collect();
    let mut batch = TxBatch::new();
    batch
        .fill(&mut queue, &mut WrCredits::default(), 1 << 20)
        .unwrap();
    let full = batch.wire_image();
    let mut counters = ConnCounters::default();
    batch.pretend_pushed(1);
    assert_eq!(batch.on_cqe(70, &mut counters), TxProgress::Resume);
    assert_eq!(counters.short_transfers, 1);
    assert_eq!(batch.wire_image(), full[70..].to_vec());
    assert_eq!(batch.ops[0].remaining as usize, full.len() - 70);
    batch.pretend_pushed(1);
    let rest = (full.len() - 70) as i32;
    assert_eq!(
        batch.on_cqe(rest, &mut counters),
        TxProgress::Done {
            credits: 2,
            pdus: 2,
            bytes: full.len() as u64
        }
    );
}

#[test]
fn cancel_after_short_is_expected_but_not_otherwise() {
    let mut tasks = TaskBuffers::default();
    tasks.insert(
        1,
        TaskBuffer::Fixed {
            buf_index: 0,
            base: 0,
            len: 4096,
        },
    );
    let payload = Payload::Task {
        task: 1,
        offset: 0,
        len: 4096,
    };
    let make = || {
        let pdu = TxPdu::new(tx(payload.clone(), UlpSubmode::default()), &tasks).unwrap();
        batch_of(pdu)
    };
    let mut counters = ConnCounters::default();
    let mut batch = make();
    batch.pretend_pushed(2);
    assert_eq!(batch.on_cqe(10, &mut counters), TxProgress::Pending);
    assert_eq!(
        batch.on_cqe(-libc::ECANCELED, &mut counters),
        TxProgress::Resume
    );
    let mut batch = make();
    batch.pretend_pushed(2);
    assert_eq!(
        batch.on_cqe(-libc::ECANCELED, &mut counters),
        TxProgress::Failed(AbortReason::UnexpectedCancel)
    );
}

/// Takes every SQE.
struct Sink(usize);

impl Submitter for Sink {
    fn sq_space(&mut self) -> usize {
        64
    }

    fn push(&mut self, _token: u64, _sqe: Entry) -> Result<(), SqFull> {
        self.0 += 1;
        Ok(())
    }
}

/// Records the token of every SQE, with `space` free slots.
struct Tokens {
    space: usize,
    tokens: Vec<u64>,
}

impl Submitter for Tokens {
    fn sq_space(&mut self) -> usize {
        self.space - self.tokens.len()
    }

    fn push(&mut self, token: u64, _sqe: Entry) -> Result<(), SqFull> {
        self.tokens.push(token);
        Ok(())
    }
}

/// A batch of one PDU whose `len`-byte payload is in fixed buffer 4.
fn fixed_payload_batch(len: u32) -> TxBatch {
    let tasks = fixed_task();
    let payload = Payload::Task {
        task: 1,
        offset: 0,
        len,
    };
    let pdu = TxPdu::new(tx(payload, UlpSubmode::default()), &tasks).unwrap();
    batch_of(pdu)
}

const TX: u64 = 2;
const CORK: u64 = 6;

/// Pushes the batch's next chain (send token TX, cork token `cork`) into a submission
/// queue with `space` free slots; returns the tokens pushed, in order.
fn pushed_tokens(
    batch: &mut TxBatch,
    cork: Option<u64>,
    silent_ok: bool,
    space: usize,
    counters: &mut ConnCounters,
) -> Vec<u64> {
    let mut sub = Tokens {
        space,
        tokens: Vec::new(),
    };
    let mut in_flight = 0;
    batch
        .push_chain(
            types::Fd(-1),
            TX,
            cork,
            silent_ok,
            &mut sub,
            counters,
            &mut in_flight,
        )
        .unwrap();
    assert_eq!(in_flight, sub.tokens.len(), "every SQE counted in flight");
    sub.tokens
}

#[test]
fn a_chain_with_a_fixed_payload_is_sent_corked() {
    let mut counters = ConnCounters::default();
    let mut batch = fixed_payload_batch(8192);
    let tokens = pushed_tokens(&mut batch, Some(CORK), true, 64, &mut counters);
    // Cork, header SENDMSG, payload WRITE_FIXED, uncork.
    assert_eq!(tokens, [CORK, TX, TX, CORK]);
    assert_eq!(counters.corked_chains, 1);
    assert!(!batch.has_silent_send());
}

#[test]
fn a_chain_resumed_after_a_short_corked_send_uncorks() {
    let mut counters = ConnCounters::default();
    // Header, 1022-byte payload from fixed memory, 2 bytes of padding.
    let mut batch = fixed_payload_batch(1022);
    assert_eq!(batch.ops.len(), 3);
    let push = |batch: &mut TxBatch, counters: &mut ConnCounters| {
        pushed_tokens(batch, Some(CORK), false, 64, counters)
    };
    assert_eq!(push(&mut batch, &mut counters), [CORK, TX, TX, TX, CORK]);
    assert_eq!(batch.on_cqe(48, &mut counters), TxProgress::Pending);
    assert_eq!(batch.on_cqe(1022, &mut counters), TxProgress::Pending);
    // The padding goes short: the uncork behind it is cancelled.
    assert_eq!(batch.on_cqe(1, &mut counters), TxProgress::Resume);
    // What is left is one byte of a SENDMSG, and the socket may still be corked.
    assert_eq!(push(&mut batch, &mut counters), [CORK, TX, CORK]);
    let (credits, bytes) = (batch.credits, batch.bytes);
    assert_eq!(
        batch.on_cqe(1, &mut counters),
        TxProgress::Done {
            credits,
            pdus: 1,
            bytes
        }
    );
    assert!(!batch.may_be_corked);
}

#[test]
fn corking_needs_room_for_both_setsockopts() {
    let mut counters = ConnCounters::default();
    let mut batch = fixed_payload_batch(8192);
    assert_eq!(
        pushed_tokens(&mut batch, Some(CORK), false, 2, &mut counters),
        [TX, TX],
        "no room for the cork: sent as it is"
    );
    assert_eq!(counters.corked_chains, 0);
}

#[test]
fn mapped_only_chains_and_refused_corks_go_uncorked() {
    for cork in [Some(CORK), None] {
        let mut counters = ConnCounters::default();
        let mut batch = if cork.is_some() {
            one_sendmsg_batch()
        } else {
            fixed_payload_batch(8192)
        };
        let tokens = pushed_tokens(&mut batch, cork, false, 64, &mut counters);
        assert!(tokens.iter().all(|&token| token == TX), "{cork:?}");
        assert_eq!(counters.corked_chains, 0);
    }
}

/// A batch filled from a queue of just `pdu`.
fn batch_of(pdu: TxPdu) -> TxBatch {
    let mut queue: VecDeque<TxPdu> = [pdu].into_iter().collect();
    let mut batch = TxBatch::new();
    batch
        .fill(&mut queue, &mut WrCredits::default(), 1 << 20)
        .unwrap();
    batch
}

fn one_sendmsg_batch() -> TxBatch {
    let tasks = TaskBuffers::default();
    let pdu = TxPdu::new(tx(Payload::Inline(vec![7; 10]), both()), &tasks).unwrap();
    batch_of(pdu)
}

fn push(batch: &mut TxBatch, silent_ok: bool, counters: &mut ConnCounters) {
    batch
        .push_chain(
            types::Fd(-1),
            0,
            None,
            silent_ok,
            &mut Sink(0),
            counters,
            &mut 0,
        )
        .unwrap();
}

#[test]
fn a_silent_send_completes_when_settled() {
    let mut counters = ConnCounters::default();
    let mut batch = one_sendmsg_batch();
    push(&mut batch, true, &mut counters);
    assert!(batch.has_silent_send());
    assert_eq!(counters.silent_sends, 1);
    assert_eq!(
        batch.settle_silent(),
        Some(TxProgress::Done {
            credits: 1,
            pdus: 1,
            bytes: batch.bytes
        })
    );
    assert_eq!(batch.settle_silent(), None, "settled once");
}

#[test]
fn a_silent_send_that_found_no_room_is_retried_loud() {
    let mut counters = ConnCounters::default();
    let mut batch = one_sendmsg_batch();
    push(&mut batch, true, &mut counters);
    assert_eq!(
        batch.on_cqe(-libc::EAGAIN, &mut counters),
        TxProgress::Resume
    );
    assert!(!batch.has_silent_send());
    push(&mut batch, true, &mut counters);
    assert!(
        !batch.has_silent_send(),
        "a retry waits for room and has a CQE"
    );
    assert_eq!(counters.silent_sends, 1);
    let total = batch.ops[0].remaining as i32;
    assert!(matches!(
        batch.on_cqe(total, &mut counters),
        TxProgress::Done { pdus: 1, .. }
    ));
}

#[test]
fn a_short_silent_send_resumes_where_it_stopped() {
    let mut counters = ConnCounters::default();
    let mut batch = one_sendmsg_batch();
    let full = batch.wire_image();
    push(&mut batch, true, &mut counters);
    assert_eq!(batch.on_cqe(20, &mut counters), TxProgress::Resume);
    assert_eq!(batch.wire_image(), full[20..].to_vec());
    assert_eq!(batch.settle_silent(), None, "its CQE came");
}

#[test]
fn only_single_sendmsg_batches_go_silent() {
    let mut counters = ConnCounters::default();
    let mut batch = one_sendmsg_batch();
    push(&mut batch, false, &mut counters);
    assert!(!batch.has_silent_send(), "not allowed");
    let mut tasks = TaskBuffers::default();
    tasks.insert(
        1,
        TaskBuffer::Fixed {
            buf_index: 0,
            base: 0,
            len: 4096,
        },
    );
    let payload = Payload::Task {
        task: 1,
        offset: 0,
        len: 100,
    };
    let pdu = TxPdu::new(tx(payload, UlpSubmode::default()), &tasks).unwrap();
    let mut batch = batch_of(pdu);
    push(&mut batch, true, &mut counters);
    assert!(!batch.has_silent_send(), "SENDMSG, WRITE_FIXED, SENDMSG");
}
