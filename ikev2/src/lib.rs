//! Sans-IO IKEv2 (work in progress: being written in this session).
