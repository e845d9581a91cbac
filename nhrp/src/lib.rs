//! Sans-IO nhrp (work in progress: being written in this session).
