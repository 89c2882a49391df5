//! Application error codes on streams (`STOP_SENDING`, `RESET_STREAM`) and
//! connections (`CONNECTION_CLOSE`).

/// Stream: the server has answered and reads nothing more (`STOP_SENDING`
/// on a request whose input it no longer needs). Connection: the client
/// closed it.
pub const DONE: u32 = 0;
/// Stream: the call was cancelled (`STOP_SENDING` / `RESET_STREAM` by the
/// client; `RESET_STREAM` by the server once it has stopped the node).
pub const CANCELLED: u32 = 1;
/// Stream: a frame was larger than the receiver's maximum; it stops reading.
pub const FRAME_TOO_LARGE: u32 = 2;
/// Stream: the stream was malformed (bad MessagePack, a frame of the wrong
/// type, cut short); the receiver stops reading.
pub const MALFORMED: u32 = 3;
/// Connection: the server is shutting down.
pub const SHUTDOWN: u32 = 4;
/// Connection: the client's address is refused by the server's allow or
/// deny list (the reason names the rule).
pub const IP_REFUSED: u32 = 5;
/// Connection: the server, or the client's address, has its maximum of
/// connections open.
pub const CONNECTION_LIMIT: u32 = 6;
/// Stream: the server holds as much of this connection's (or everyone's)
/// unfinished frames as it allows; it stops reading, and answers
/// `overloaded`.
pub const OVER_BUDGET: u32 = 7;
/// Stream: a frame did not arrive in time (it started, or the stream was
/// opened, longer ago than the server's frame timeout); the server stops
/// reading and answers `timeout`.
pub const TOO_SLOW: u32 = 8;
