-- The number of domains a paid order was placed for (CreateCertificate's DomainNum). A later
-- submission may name at most this many domains, counting the CSR's.
CREATE TABLE paid_order_domains (
    certificate_id TEXT PRIMARY KEY REFERENCES certificates (id),
    domain_count   INTEGER NOT NULL CHECK (domain_count BETWEEN 1 AND 100),
    created_at     INTEGER NOT NULL
);
