//! What the fuzz targets share: the harness of the two `dmvpn_core::Node` targets
//! (`dmvpn_node`, `dmvpn_node_protected`).

pub mod node;
