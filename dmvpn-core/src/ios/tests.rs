//! Unit tests of the IOS parser: each supported line to its field.
