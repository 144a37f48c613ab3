//! Input splits (being written).
