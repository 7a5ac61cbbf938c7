//! Sending the packets the engine emits (REJECT's TCP resets and ICMP
//! errors) on the wire, through raw sockets that take the whole datagram
//! (`IPPROTO_RAW`: `IP_HDRINCL` for IPv4, implied header inclusion for IPv6).
//! The sockets carry [`crate::nft::INJECT_MARK`] so the daemon's own output
//! chain lets the replies pass instead of queueing them again: the engine
//! has already run them through OUTPUT and POSTROUTING.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Raw sockets of one worker.
pub struct Injector {
    v4: Option<Socket>,
    v6: Option<Socket>,
}

fn raw(domain: Domain, mark: u32) -> io::Result<Socket> {
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))?;
    s.set_mark(mark)?;
    if domain == Domain::IPV4 {
        s.set_header_included_v4(true)?;
    }
    Ok(s)
}

impl Injector {
    /// Opens both sockets; a family the host lacks is skipped.
    pub fn new(mark: u32) -> io::Result<Injector> {
        let v4 = raw(Domain::IPV4, mark);
        let v6 = raw(Domain::IPV6, mark);
        if let (Err(e), Err(_)) = (&v4, &v6) {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        Ok(Injector {
            v4: v4.ok(),
            v6: v6.ok(),
        })
    }

    /// Sends one datagram. `ifindex` scopes IPv6 link-local destinations.
    pub fn send(&self, datagram: &[u8], ifindex: u32) -> io::Result<()> {
        let Some(dst) = destination(datagram) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an IP datagram",
            ));
        };
        match dst {
            IpAddr::V4(a) => {
                let s = self.v4.as_ref().ok_or(io::ErrorKind::Unsupported)?;
                s.send_to(datagram, &SockAddr::from(SocketAddrV4::new(a, 0)))?;
            }
            IpAddr::V6(a) => {
                let s = self.v6.as_ref().ok_or(io::ErrorKind::Unsupported)?;
                let scope = if a.segments()[0] & 0xffc0 == 0xfe80 || a.is_multicast() {
                    ifindex
                } else {
                    0
                };
                s.send_to(datagram, &SockAddr::from(SocketAddrV6::new(a, 0, 0, scope)))?;
            }
        }
        Ok(())
    }
}

/// The destination address of a datagram.
pub fn destination(d: &[u8]) -> Option<IpAddr> {
    match d.first()? >> 4 {
        4 if d.len() >= 20 => Some(IpAddr::V4(Ipv4Addr::new(d[16], d[17], d[18], d[19]))),
        6 if d.len() >= 40 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&d[24..40]);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(destination(&v4), Some("10.0.0.2".parse().unwrap()));
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[39] = 1;
        assert_eq!(destination(&v6), Some("::1".parse().unwrap()));
        assert_eq!(destination(&[0x45, 0]), None);
        assert_eq!(destination(&[]), None);
    }
}
