//! Blobs over HTTP: `PUT /v1/blobs` streams the body to the store (its
//! `blake3:` reference comes back, `201 Created`), `GET /v1/blobs/{ref}`
//! streams it back with the hash as its `ETag`, `If-None-Match` and a
//! single `Range` of bytes.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::AppState;
use super::auth::Caller;
use super::problem::Problem;
use crate::host::BlobDownload;
use crate::proto::ErrorKind;

pub(super) async fn upload(
    State(state): State<AppState>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut upload = state.host.blob_put(&who, size).await?;
    let idle = state.host.blob_limits().upload_idle();
    let mut chunks = body.into_data_stream();
    loop {
        let chunk = match tokio::time::timeout(idle, chunks.next()).await {
            Err(_) => {
                return Err(Problem::new(
                    ErrorKind::Timeout,
                    "the upload sent nothing for too long; it was dropped",
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(Problem::new(
                    ErrorKind::BadRequest,
                    format!("reading the upload failed: {e}"),
                ));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        upload.write(chunk).await?;
    }
    let info = upload.finish().await?;
    let mut response = (
        StatusCode::CREATED,
        Json(serde_json::json!({"ref": info.reference, "size": info.size})),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/blobs/{}", info.reference)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A single `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX` range of
/// a blob of `size` bytes, as `first..=last`; `None` for a header this
/// does not serve (the whole blob is sent).
fn byte_range(value: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let range = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            (size.saturating_sub(n), size - 1)
        }
        (first, "") => {
            let first: u64 = first.parse().ok()?;
            (first, size.saturating_sub(1))
        }
        (first, last) => {
            let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
            // A range that ends before it starts is invalid: ignored.
            if last < first {
                return None;
            }
            (first, last.min(size.saturating_sub(1)))
        }
    };
    // Starting past the end cannot be satisfied.
    if range.0 >= size {
        return Some(Err(()));
    }
    Some(Ok(range))
}

pub(super) async fn download(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let download = state.host.blob_get(&who, &reference).await?;
    let info = download.info().clone();
    let etag = format!("\"{}\"", info.reference);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            // Weak comparison (RFC 9110): `W/` does not matter here.
            v.split(',').any(|t| {
                let t = t.trim();
                t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
            })
        })
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        insert(&mut response, header::ETAG, &etag);
        return Ok(response);
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| byte_range(v, info.size));
    let (status, first, last) = match range {
        None => (StatusCode::OK, 0, info.size.saturating_sub(1)),
        Some(Ok((first, last))) => (StatusCode::PARTIAL_CONTENT, first, last),
        Some(Err(())) => {
            let mut problem = Problem::new(
                ErrorKind::BadRequest,
                format!("the range is outside the blob's {} bytes", info.size),
            )
            .to_json();
            problem["status"] = serde_json::json!(416);
            let mut response =
                (StatusCode::RANGE_NOT_SATISFIABLE, problem.to_string()).into_response();
            insert(
                &mut response,
                header::CONTENT_TYPE,
                super::problem::PROBLEM_JSON,
            );
            insert(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{}", info.size),
            );
            return Ok(response);
        }
    };
    let length = if info.size == 0 { 0 } else { last - first + 1 };
    let to_end = first + length >= info.size;
    let body = Body::from_stream(chunks(download, first, length, to_end));
    let mut response = (status, body).into_response();
    insert(&mut response, header::ETAG, &etag);
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
    insert(
        &mut response,
        header::CONTENT_TYPE,
        "application/octet-stream",
    );
    if status == StatusCode::PARTIAL_CONTENT {
        insert(
            &mut response,
            header::CONTENT_RANGE,
            &format!("bytes {first}-{last}/{}", info.size),
        );
    }
    Ok(response)
}

fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// The blob's bytes from `skip` on, `length` of them. When they run `to_end`
/// the whole blob's hash is checked at the end (a mismatch ends the body
/// with an error instead of its end).
fn chunks(
    download: BlobDownload,
    skip: u64,
    length: u64,
    to_end: bool,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::unfold(
        (download, skip, length),
        move |(mut download, mut skip, mut left)| async move {
            loop {
                if left == 0 {
                    if !to_end {
                        return None;
                    }
                    // Reading past the last byte checks the hash.
                    return match download.next_chunk().await {
                        Err(e) => Some((Err(std::io::Error::other(e.message)), (download, 0, 0))),
                        Ok(_) => None,
                    };
                }
                let chunk = match download.next_chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return None,
                    Err(e) => {
                        let error = std::io::Error::other(e.message);
                        return Some((Err(error), (download, 0, 0)));
                    }
                };
                let len = chunk.len() as u64;
                if skip >= len {
                    skip -= len;
                    continue;
                }
                let start = skip as usize;
                let end = (start as u64 + left).min(len) as usize;
                let piece = chunk[start..end].to_vec();
                left -= (end - start) as u64;
                return Some((Ok(piece), (download, 0, left)));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_like_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(byte_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(byte_range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(byte_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=5-1", 100), None, "invalid: ignored");
        assert_eq!(byte_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=x-1", 100), None);
    }
}
