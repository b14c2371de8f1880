//! A portal that only redirects: every Login Request is answered with status class 1
//! (redirection) and a `TargetAddress`, as a target behind a load balancer does.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use iscsi_proto::pdu::Header;
use iscsi_proto::text;

use super::login::response_to;
use super::wire::{read_header, send};

/// Runs until dropped (its thread ends with the process).
#[derive(Debug)]
pub struct Redirector {
    addr: SocketAddr,
    logins: Arc<AtomicU64>,
}

impl Redirector {
    /// Redirects every login on a loopback port to `to`, temporarily (status 0x0101) or
    /// permanently (0x0102).
    pub fn start(to: SocketAddr, temporary: bool) -> io::Result<Redirector> {
        Redirector::serve(Some(to), temporary)
    }

    /// Redirects every login to itself: a redirection loop.
    pub fn start_loop(temporary: bool) -> io::Result<Redirector> {
        Redirector::serve(None, temporary)
    }

    fn serve(to: Option<SocketAddr>, temporary: bool) -> io::Result<Redirector> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let to = to.unwrap_or(addr);
        let logins = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&logins);
        let target_address = format!("{to},1");
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Ok(Some((Header::LoginRequest(request), _))) = read_header(&mut stream) else {
                    continue;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                let mut response = response_to(&request, 0);
                response.status_class = 1;
                response.status_detail = if temporary { 1 } else { 2 };
                let data = text::encode(&[("TargetAddress".to_owned(), target_address.clone())])
                    .unwrap_or_default();
                let _ = send(&mut stream, Header::LoginResponse(response), &data);
            }
        });
        Ok(Redirector { addr, logins })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Logins redirected so far.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }
}
