//! Now and then (about one in a few thousand page renders under heavy test
//! load) a Leptos page render never completes: its async resources resolve
//! but the render is not woken again. A page GET is idempotent, so a render
//! still running after `STALLED` is abandoned and started once more, with a
//! warning naming the path; a second stall answers 503 instead of leaving
//! the browser waiting forever.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service, ServiceExt};

use crate::http::error::PageError;

const STALLED: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Default)]
pub struct RetryStalledRenders;

impl<S> Layer<S> for RetryStalledRenders {
    type Service = RetryStalled<S>;
    fn layer(&self, inner: S) -> RetryStalled<S> {
        RetryStalled { inner }
    }
}

#[derive(Clone)]
pub struct RetryStalled<S> {
    inner: S,
}

impl<S> Service<Request> for RetryStalled<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            if req.method() != Method::GET {
                return inner.oneshot(req).await;
            }
            let (parts, _) = req.into_parts();
            for attempt in 1..=2 {
                let req = Request::from_parts(parts.clone(), Body::empty());
                match tokio::time::timeout(STALLED, inner.clone().oneshot(req)).await {
                    Ok(answer) => return answer,
                    Err(_) => {
                        // In `/metrics`: how often this retry acts at all.
                        metrics::counter!("portal_render_stalls_total").increment(1);
                        tracing::warn!(
                            path = %parts.uri.path(),
                            attempt,
                            "page render stalled; abandoned"
                        )
                    }
                }
            }
            let problem = app::domain::Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "render_stalled",
                "This page took too long to prepare. Please reload it.",
            );
            Ok(PageError::Problem(problem).into_response())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn stalling(
        stalls: usize,
    ) -> (
        RetryStalled<
            impl Service<Request, Response = Response, Error = Infallible, Future = impl Send> + Clone,
        >,
        Arc<AtomicUsize>,
    ) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let inner = tower::service_fn(move |_req: Request| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < stalls {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Infallible>(StatusCode::OK.into_response())
            }
        });
        (RetryStalledRenders.layer(inner), calls)
    }

    fn get() -> Request {
        Request::get("/analytics").body(Body::empty()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_render_is_started_once_more_then_given_up() {
        let (service, calls) = stalling(1);
        assert_eq!(
            service.oneshot(get()).await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let (service, calls) = stalling(5);
        let answer = service.oneshot(get()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A post is never repeated.
        let (service, calls) = stalling(0);
        let post = Request::post("/agents").body(Body::empty()).unwrap();
        assert_eq!(
            service.oneshot(post).await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
