//! What happens while a call runs, before its result: progress, log lines
//! and items. The runtime produces these, every front end forwards them, and
//! every client reads them: one type from the guest to the caller.

use std::fmt;

use rmpv::Value;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Very detailed tracing output.
    Trace,
    /// Debugging information.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected the node recovered from.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// Every level, lowest first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The level's wire name, e.g. `"warn"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// The level named `name`, if it is one.
    pub fn parse(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a running call sends before its result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// The node reported progress.
    Progress {
        /// How far along the call is, 0.0 to 1.0.
        fraction: f32,
        /// What the node is doing.
        message: String,
    },
    /// The node wrote a log line.
    Log {
        /// The line's severity.
        level: LogLevel,
        /// The line.
        message: String,
    },
    /// One item of a stream or channel node (or a chunk of a downloaded
    /// blob).
    Item(Value),
}
