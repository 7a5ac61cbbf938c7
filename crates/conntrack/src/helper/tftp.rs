//! Kernel: net/netfilter/nf_conntrack_tftp.c (`tftp_help`).
//!
//! A TFTP read or write request (opcode 1 or 2 in the first two bytes after
//! the UDP header), in either direction and whatever the ctinfo, makes an
//! expectation for the server's answer: from the reply tuple's source (the
//! server's address, any port — TFTP servers answer from a fresh port) to
//! the reply tuple's destination address and port (the client's). Other
//! opcodes (DATA, ACK, ERROR, unknown) and short payloads pass untouched.

/// `TFTP_OPCODE_READ`.
pub const OPCODE_READ: u16 = 1;
/// `TFTP_OPCODE_WRITE`.
pub const OPCODE_WRITE: u16 = 2;

/// Whether a UDP payload is a read or write request.
pub fn is_request(payload: &[u8]) -> bool {
    match payload.get(..2) {
        Some(b) => matches!(u16::from_be_bytes([b[0], b[1]]), OPCODE_READ | OPCODE_WRITE),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert!(is_request(b"\x00\x01file\x00octet\x00"));
        assert!(is_request(b"\x00\x02file\x00octet\x00"));
        assert!(!is_request(b"\x00\x03\x00\x01data"));
        assert!(!is_request(b"\x00"));
    }
}
