//! External sort for the shuffle (being written).
