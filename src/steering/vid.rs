//! Virtual identifiers and the layouts that carry them inside TEIDs and tunnel ids.
