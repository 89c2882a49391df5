//! [`Channel`]: what a channel node returns.

/// The answering side of a channel node: each message the caller sends is
/// handed to a closure that returns the answers to send back (none, one or
/// several), and when the caller has no more messages an optional `finish`
/// closure sends the last ones.
///
/// A `pub fn` of a [`plugin`](crate::plugin) module that returns
/// `Channel<I, O>` is a channel node: the caller opens it with the
/// function's arguments, then sends `I`s and receives `O`s. The closures
/// keep their state between messages (they are `FnMut`), for the length of
/// the call.
///
/// # Examples
///
/// ```
/// use warden_guest::Channel;
///
/// /// Answers each message with a running count, and says goodbye.
/// fn tally(prefix: String) -> Channel<String, String> {
///     let mut seen = 0u32;
///     Channel::new(move |message: String| {
///         seen += 1;
///         vec![format!("{prefix}{seen}: {message}")]
///     })
///     .with_finish(|| vec!["bye".to_owned()])
/// }
///
/// let mut channel = tally("#".into());
/// assert_eq!(channel.send("hi".into()), ["#1: hi"]);
/// assert_eq!(channel.send("there".into()), ["#2: there"]);
/// assert_eq!(channel.finish(), ["bye"]);
/// ```
pub struct Channel<I, O> {
    send: Box<dyn FnMut(I) -> Vec<O>>,
    finish: Option<Box<dyn FnMut() -> Vec<O>>>,
}

impl<I, O> Channel<I, O> {
    /// A channel that answers each message with what `send` returns, and
    /// sends nothing more when the input ends.
    pub fn new(send: impl FnMut(I) -> Vec<O> + 'static) -> Self {
        Channel {
            send: Box::new(send),
            finish: None,
        }
    }

    /// Sends what `finish` returns when the caller has no more messages
    /// (by default nothing).
    pub fn with_finish(mut self, finish: impl FnMut() -> Vec<O> + 'static) -> Self {
        self.finish = Some(Box::new(finish));
        self
    }

    /// The answers to `message`. The generated code calls this for each
    /// message; call it yourself to test a channel natively.
    pub fn send(&mut self, message: I) -> Vec<O> {
        (self.send)(message)
    }

    /// The last answers, once the input has ended.
    pub fn finish(&mut self) -> Vec<O> {
        self.finish.as_mut().map_or_else(Vec::new, |f| f())
    }
}

impl<I, O> std::fmt::Debug for Channel<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("finish", &self.finish.is_some())
            .finish_non_exhaustive()
    }
}
