//! A byte stream that reads at most a given number of bytes in answer to
//! one request: the bound under the Redis and PostgreSQL connections, whose
//! libraries buffer a reply whole whatever size its header announces. A
//! write (the next request) starts the count again; past the bound a read
//! fails with an error that names it, so a server sending 50 MB costs at
//! most the bound, once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The words every over-long reply's error carries, for the classifiers.
pub const TOO_LARGE: &str = "reply larger than";

/// A stream whose reads stop `limit` bytes after the last write.
pub struct Capped<S> {
    inner: S,
    limit: usize,
    left: usize,
}

impl<S> Capped<S> {
    pub fn new(inner: S, limit: usize) -> Self {
        Capped {
            inner,
            limit,
            left: limit,
        }
    }
}

/// `8 MiB`, or bytes when not a whole number of MiB.
fn size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b => format!("{b} bytes"),
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            let message = format!(
                "{TOO_LARGE} {}, the most read for one request",
                size(self.limit)
            );
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, message)));
        }
        // Never read past the bound, even into a larger buffer.
        let room = self.left.min(buf.remaining());
        let (result, read) = {
            let mut small = ReadBuf::new(buf.initialize_unfilled_to(room));
            let result = Pin::new(&mut self.inner).poll_read(cx, &mut small);
            (result, small.filled().len())
        };
        buf.advance(read);
        self.left -= read;
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            self.left = self.limit;
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn reads_stop_at_the_bound_and_a_write_starts_the_count_again() {
        let (mut server, client) = tokio::io::duplex(4096);
        server.write_all(&[b'x'; 100]).await.unwrap();
        let mut capped = Capped::new(client, 10);
        let mut buf = [0u8; 64];
        let read = capped.read(&mut buf).await.unwrap();
        assert_eq!(read, 10, "no more than the bound");
        let error = capped.read(&mut buf).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "reply larger than 10 bytes, the most read for one request"
        );
        capped.write_all(b"PING\r\n").await.unwrap();
        let read = capped.read(&mut buf).await.unwrap();
        assert_eq!(read, 10, "a request reads on, up to the bound again");
        assert_eq!(size(8 * 1024 * 1024), "8 MiB");
    }
}
