//! Reading and writing PDUs on the hostile target's connections (no digests: it negotiates
//! HeaderDigest=None and DataDigest=None).

use std::io::{self, Write};
use std::net::TcpStream;

use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{encode_pdu, Header, Pdu, BHS_LEN};

use crate::proxy::frame::read_pdu;

/// Reads and decodes the next PDU from the initiator; `None` at the end of the stream.
pub(super) fn read_header(stream: &mut TcpStream) -> io::Result<Option<(Header, Vec<u8>)>> {
    let Some(pdu) = read_pdu(stream, || Digests::NONE)? else {
        return Ok(None);
    };
    let ahs = &pdu.bytes[BHS_LEN..BHS_LEN + pdu.lengths.ahs_len];
    let header = Header::decode(pdu.bhs(), ahs)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((header, pdu.data().to_vec())))
}

/// Encodes and sends one well-formed PDU.
pub(super) fn send(stream: &mut TcpStream, header: Header, data: &[u8]) -> io::Result<()> {
    let bytes = encode_pdu(&Pdu::new(header, data.to_vec()), Digests::NONE)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    stream.write_all(&bytes)
}

/// The BHS of a well-formed header with a data segment of `data_len` bytes, for a caller that
/// then breaks it on purpose.
pub(super) fn bhs_of(header: &Header, data_len: usize) -> io::Result<[u8; BHS_LEN]> {
    let encoded = header
        .encode(data_len)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    Ok(encoded.bhs)
}
