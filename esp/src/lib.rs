//! Sans-IO esp (work in progress: being written in this session).
