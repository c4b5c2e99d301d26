//! Retries with backoff for calls that are safe to repeat (reads, dry-runs, idempotent
//! applies): transport failures and 5xx/429 answers, never conflicts or validation errors.

use std::future::Future;
use std::time::Duration;

/// Attempts in all, the first included.
const ATTEMPTS: u32 = 4;
/// The first pause; doubled after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Whether an error is transient: the same request may succeed if repeated.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Run `call` until it succeeds, fails with a non-transient error, or runs out of attempts.
pub async fn retry_safe<T, F, Fut>(mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if attempt < ATTEMPTS && is_transient(&err) => {
                tracing::debug!(attempt, error = %super::error::one_line(&err), "retrying a safe call");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("x", "y").with_code(code),
        ))
    }

    #[tokio::test]
    async fn retries_transient_errors_then_succeeds() {
        let calls = AtomicU32::new(0);
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            retry_safe(|| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(status(503))
                } else {
                    Ok(7)
                }
            }),
        )
        .await
        .unwrap();
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn never_retries_a_conflict_or_a_validation_error() {
        for code in [409, 422, 400] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = tokio::time::timeout(
                Duration::from_secs(10),
                retry_safe(|| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(status(code))
                }),
            )
            .await
            .unwrap();
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 1, "code {code}");
        }
    }
}
