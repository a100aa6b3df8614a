//! Small but complete documents for upload tests.

/// Returns a PDF of exactly `len` bytes (at least 300): a header, one empty page, a
/// cross-reference table and the end-of-file marker, padded with a comment line.
pub fn pdf_document(len: usize) -> Vec<u8> {
    let body = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
                3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n";
    let tail = "xref\n0 4\n0000000000 65535 f \ntrailer << /Size 4 /Root 1 0 R >>\nstartxref\n0\n%%EOF\n";
    assert!(len >= body.len() + tail.len() + 2, "a PDF document needs at least {} bytes", body.len() + tail.len() + 2);
    let mut content = body.as_bytes().to_vec();
    content.push(b'%');
    content.resize(len - tail.len() - 1, b'x');
    content.push(b'\n');
    content.extend_from_slice(tail.as_bytes());
    content
}
