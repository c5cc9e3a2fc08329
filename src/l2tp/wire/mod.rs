//! The L2TPv2 wire codec: header, AVPs (RFC 2661 section 4.4 and the load-redirection vendor AVPs),
//! hidden AVPs and messages.
