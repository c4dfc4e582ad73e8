//! How a running command is asked to stop, and how `scheduler stop` asks it: SIGTERM (systemd,
//! `docker stop`, `kill`) and Ctrl-C on Unix. Windows has no SIGTERM, so there each process
//! that listens also makes a named event, `Local\binance-futures-availability-stop-<pid>`,
//! which `scheduler stop` sets; Ctrl-C and Ctrl-Break in its console stop it too. Closing the
//! console window, logging off or shutting down is not listened for: Windows ends the process
//! a few seconds after telling it, too soon to commit, so it ends as by `kill -9` (the next
//! run resumes what was committed).
//!
//! What must not be known here: what a stop does (the callers cancel their own work), and which
//! process to ask (`scheduler` reads the pid file).

/// Stop requests, as they arrive.
pub(crate) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_break: Option<tokio::signal::windows::CtrlBreak>,
    #[cfg(windows)]
    event: tokio::sync::mpsc::UnboundedReceiver<()>,
}

impl Signals {
    /// `None` (said in the log) when the stop requests cannot be listened for: the process then
    /// stops the default way, at once.
    pub(crate) fn listen() -> Option<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(term) => Some(Signals { term }),
                Err(e) => {
                    tracing::warn!("could not listen for SIGTERM: {e}");
                    None
                }
            }
        }
        #[cfg(windows)]
        {
            // A process without a console (`scheduler start --daemon`) has no Ctrl-Break to
            // hear, and still its stop event.
            let ctrl_break = tokio::signal::windows::ctrl_break()
                .inspect_err(|e| tracing::warn!("could not listen for Ctrl-Break: {e}"))
                .ok();
            match event::listen() {
                Ok(event) => Some(Signals { ctrl_break, event }),
                Err(e) => {
                    tracing::warn!("could not make the stop event `scheduler stop` sets: {e}");
                    None
                }
            }
        }
    }

    /// Waits for the next stop request.
    pub(crate) async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        // A listener that cannot be had (no console) disables its branch instead of ending the
        // wait at once.
        #[cfg(windows)]
        tokio::select! {
            Some(()) = async {
                match &mut self.ctrl_break {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            } => {}
            Some(()) = self.event.recv() => {}
            Ok(()) = tokio::signal::ctrl_c() => {}
            // Nothing left to hear: no stop request can come.
            else => std::future::pending::<()>().await,
        }
    }
}

/// Why a process could not be asked to stop.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// `kill(pid, SIGTERM)` failed.
    #[cfg(unix)]
    #[error("could not signal the scheduler (pid {pid}): {source}")]
    Signal {
        /// The process.
        pid: u32,
        /// What `kill` said.
        source: nix::Error,
    },
    /// The process's stop event could not be opened or set.
    #[cfg(windows)]
    #[error(
        "could not ask the scheduler (pid {pid}) to stop through its stop event: {source}; a \
         scheduler of another user or Windows session can only be stopped there"
    )]
    Event {
        /// The process.
        pid: u32,
        /// What `OpenEventW` or `SetEvent` said.
        source: std::io::Error,
    },
}

/// Asks the process `pid` to stop as its `Signals` listen: SIGTERM, or its stop event.
pub(crate) fn request(pid: u32) -> Result<(), StopError> {
    #[cfg(unix)]
    {
        // The pid came from a pid file of this namespace; a pid past i32 is no process.
        let target = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM)
            .map_err(|source| StopError::Signal { pid, source })
    }
    #[cfg(windows)]
    {
        event::set(pid).map_err(|source| StopError::Event { pid, source })
    }
}

/// What a process that forcibly ends `pid` types (the sentences that advise it).
pub(crate) fn force_command(pid: u32) -> String {
    if cfg!(windows) {
        format!("taskkill /F /PID {pid}")
    } else {
        format!("kill -9 {pid}")
    }
}

#[cfg(windows)]
mod event {
    use std::io;
    use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

    use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
    use windows_sys::Win32::System::Threading::{
        CreateEventW, EVENT_MODIFY_STATE, INFINITE, OpenEventW, ResetEvent, SetEvent,
        WaitForSingleObject,
    };

    fn name(namespace: &str, pid: u32) -> Vec<u16> {
        format!("{namespace}\\binance-futures-availability-stop-{pid}")
            .encode_utf16()
            .chain([0])
            .collect()
    }

    /// Makes this process's stop event (manual reset: a set wakes every thread waiting on it,
    /// so a second command run in one Python process, whose first listener's receiver is
    /// gone, still hears it) and a thread that forwards each set to the receiver.
    pub(super) fn listen() -> io::Result<tokio::sync::mpsc::UnboundedReceiver<()>> {
        let name = name("Local", std::process::id());
        // SAFETY: default security, manual reset, initially unset, a NUL-terminated name.
        let raw = unsafe { CreateEventW(std::ptr::null(), 1, 0, name.as_ptr()) };
        if raw.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a handle just returned by CreateEventW, owned by nothing else.
        let event = unsafe { OwnedHandle::from_raw_handle(raw) };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("stop-event".into())
            .spawn(move || {
                loop {
                    // SAFETY: `event` is open for the life of this thread.
                    let waited = unsafe { WaitForSingleObject(event.as_raw_handle(), INFINITE) };
                    if waited != WAIT_OBJECT_0 {
                        tracing::warn!(
                            "stopped waiting for the stop event: {}",
                            io::Error::last_os_error()
                        );
                        return;
                    }
                    // SAFETY: as above.
                    unsafe { ResetEvent(event.as_raw_handle()) };
                    if tx.send(()).is_err() {
                        return;
                    }
                }
            })?;
        Ok(rx)
    }

    /// Sets the stop event of the process `pid`: in this session's namespace, then in the
    /// global one (where a process of session 0, a service, makes its `Local` objects).
    pub(super) fn set(pid: u32) -> io::Result<()> {
        let mut failed = io::Error::from(io::ErrorKind::NotFound);
        for namespace in ["Local", "Global"] {
            let name = name(namespace, pid);
            // SAFETY: a NUL-terminated name; the handle is not inherited.
            let raw = unsafe { OpenEventW(EVENT_MODIFY_STATE, 0, name.as_ptr()) };
            if raw.is_null() {
                failed = io::Error::last_os_error();
                continue;
            }
            // SAFETY: a handle just returned by OpenEventW, owned by nothing else.
            let event = unsafe { OwnedHandle::from_raw_handle(raw) };
            // SAFETY: `event` is open.
            if unsafe { SetEvent(event.as_raw_handle()) } == 0 {
                return Err(io::Error::last_os_error());
            }
            return Ok(());
        }
        Err(failed)
    }
}

#[cfg(test)]
mod tests {
    /// `request` reaches what `Signals` listens to (SIGTERM on Unix, the stop event on Windows),
    /// twice: the second request of a stop that ends a process at once is heard too.
    #[test]
    fn stop_requests_to_this_process_are_heard() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut signals = super::Signals::listen().expect("listening for stop requests");
            for _ in 0..2 {
                super::request(std::process::id()).unwrap();
                tokio::time::timeout(std::time::Duration::from_secs(10), signals.next())
                    .await
                    .expect("the stop request was not heard within 10 s");
            }
        });
    }
}
