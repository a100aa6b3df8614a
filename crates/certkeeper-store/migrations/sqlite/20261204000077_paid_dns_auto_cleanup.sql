-- CertificateOrderSubmit's DeleteDnsAutoRecord: 1 when the DNS_AUTO validation records of the
-- order are deleted once it is issued.
ALTER TABLE order_submissions ADD COLUMN delete_dns_auto_record INTEGER NOT NULL DEFAULT 0;
