//! Unit tests of RFC 4951 recovery.
