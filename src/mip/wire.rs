//! The Mobile IPv4 registration codec (RFC 5944): Registration Request and Reply with extensions.
