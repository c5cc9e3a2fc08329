//! A pcap writer with real Ethernet/IPv4/IPv6/UDP framing (feature `pcap`).
//!
//! The frames are built by `etherparse` and the file by `pcap-file`, so Wireshark and tshark dissect
//! what the crate's endpoints sent exactly as they would on a wire: L2TP on UDP 1701, Mobile IP on
//! 434, GTP on 2123/2152.
//!
//! ```
//! use std::time::Duration;
//! let mut out = Vec::new();
//! let mut w = telcp::pcap::PcapWriter::new(&mut out).unwrap();
//! w.write_udp(
//!     Duration::from_millis(5),
//!     "127.0.0.1:1701".parse().unwrap(),
//!     "127.0.0.2:1701".parse().unwrap(),
//!     &[0xc8, 0x02, 0x00, 0x0c, 0, 1, 0, 0, 0, 0, 0, 0],
//! )
//! .unwrap();
//! drop(w);
//! assert_eq!(&out[..4], &[0xa1, 0xb2, 0xc3, 0xd4]); // pcap magic (microsecond timestamps)
//! ```

use crate::io::MacAddr;
use etherparse::PacketBuilder;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket};
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// What went wrong writing a capture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PcapError {
    /// The underlying writer failed, with this kind of I/O error (`Other` when the pcap writer
    /// failed for another reason).
    #[error("pcap write failed: {0}")]
    Io(std::io::ErrorKind),
    /// The frame could not be built: a payload of `len` octets is too large for one UDP datagram
    /// (RFC 768: the UDP length field is 16 bits).
    #[error("a {len}-octet payload does not fit one UDP datagram")]
    TooLarge {
        /// The payload length.
        len: usize,
    },
    /// Source and destination are of different IP families.
    #[error("source {src} and destination {dst} are of different IP families")]
    MixedFamilies {
        /// The source address.
        src: SocketAddr,
        /// The destination address.
        dst: SocketAddr,
    },
}

/// Writes UDP datagrams as Ethernet frames into a pcap stream.
pub struct PcapWriter<W: Write> {
    inner: pcap_file::pcap::PcapWriter<W>,
    frame: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter").finish_non_exhaustive()
    }
}

/// The MAC a frame gets when the sender gives none: derived from the IP address, so that each host
/// of a capture keeps one stable, locally administered MAC.
fn mac_for(addr: &SocketAddr) -> MacAddr {
    match addr {
        SocketAddr::V4(a) => MacAddr::local(u32::from(*a.ip())),
        SocketAddr::V6(a) => {
            let o = a.ip().octets();
            MacAddr::local(u32::from_be_bytes([o[12], o[13], o[14], o[15]]))
        }
    }
}

/// The kind of I/O error behind a pcap writer's failure.
fn io_kind(e: pcap_file::PcapError) -> PcapError {
    PcapError::Io(match e {
        pcap_file::PcapError::IoError(e) => e.kind(),
        _ => std::io::ErrorKind::Other,
    })
}

impl<W: Write> PcapWriter<W> {
    /// Starts a capture (Ethernet link type) on `w`.
    pub fn new(w: W) -> Result<Self, PcapError> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let inner = pcap_file::pcap::PcapWriter::with_header(w, header).map_err(io_kind)?;
        Ok(PcapWriter {
            inner,
            frame: Vec::with_capacity(2048),
        })
    }

    /// Writes one UDP datagram at time `ts` (since the capture's epoch), with MACs derived from the
    /// IP addresses.
    pub fn write_udp(
        &mut self,
        ts: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), PcapError> {
        self.write_udp_l2(ts, mac_for(&src), mac_for(&dst), src, dst, payload)
    }

    /// Writes one UDP datagram with explicit Ethernet addresses (layer-2 forwarding).
    pub fn write_udp_l2(
        &mut self,
        ts: Duration,
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), PcapError> {
        let eth = PacketBuilder::ethernet2(src_mac.octets(), dst_mac.octets());
        let builder = match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => eth
                .ipv4(s.ip().octets(), d.ip().octets(), 64)
                .udp(s.port(), d.port()),
            (SocketAddr::V6(s), SocketAddr::V6(d)) => eth
                .ipv6(s.ip().octets(), d.ip().octets(), 64)
                .udp(s.port(), d.port()),
            _ => return Err(PcapError::MixedFamilies { src, dst }),
        };
        self.frame.clear();
        builder
            .write(&mut self.frame, payload)
            .map_err(|_| PcapError::TooLarge { len: payload.len() })?;
        let len = u32::try_from(self.frame.len())
            .map_err(|_| PcapError::TooLarge { len: payload.len() })?;
        let packet = PcapPacket::new(ts, len, &self.frame);
        self.inner.write_packet(&packet).map_err(io_kind)?;
        Ok(())
    }

    /// Finishes the capture and returns the writer.
    pub fn into_inner(self) -> W {
        self.inner.into_writer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_back_as_udp() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let src: SocketAddr = "10.0.0.1:434".parse().unwrap();
        let dst: SocketAddr = "10.0.0.2:434".parse().unwrap();
        w.write_udp(Duration::from_secs(1), src, dst, b"hello")
            .unwrap();
        let v6: SocketAddr = "[2001:db8::1]:2152".parse().unwrap();
        assert!(matches!(
            w.write_udp(Duration::ZERO, src, v6, b"x"),
            Err(PcapError::MixedFamilies { .. })
        ));
        let bytes = w.into_inner();
        let mut r = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap().into_owned();
        assert!(r.next_packet().is_none());
        let parsed = etherparse::SlicedPacket::from_ethernet(&p.data).unwrap();
        match parsed.transport {
            Some(etherparse::TransportSlice::Udp(u)) => {
                assert_eq!(u.source_port(), 434);
                assert_eq!(u.payload(), b"hello");
            }
            other => panic!("not UDP: {other:?}"),
        }
    }
}
