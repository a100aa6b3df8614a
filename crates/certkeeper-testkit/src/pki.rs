//! A test PKI made with the `openssl` command: a root, an intermediate under it and leaves
//! under the intermediate, with their keys in every encoding an upload may use.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Runs `openssl` in `dir` and panics with its output when it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed; run scripts/install-test-tools.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "openssl {} failed:\n{text}", args.join(" "));
    text
}

/// Runs `openssl` in `dir` and returns (success, stdout and stderr).
pub fn try_openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed; run scripts/install-test-tools.sh");
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

/// Key type of a test certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKey {
    Rsa2048,
    Rsa1024,
    EcP256,
    EcP384,
}

impl TestKey {
    fn genpkey_args(self) -> Vec<&'static str> {
        match self {
            TestKey::Rsa2048 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            TestKey::Rsa1024 => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
            TestKey::EcP256 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            TestKey::EcP384 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        }
    }
}

/// A root, an intermediate and the files of leaves issued under them, in a temporary
/// directory.
pub struct TestPki {
    pub dir: TempDir,
}

impl TestPki {
    /// Creates the root (`root.pem`, `root.key`) and intermediate (`intermediate.pem`,
    /// `intermediate.key`), both ECDSA P-256 and valid for ten years from now.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("certkeeper-pki-").tempdir().expect("create a temporary directory");
        std::fs::write(dir.path().join("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n")
            .expect("write ca.ext");
        std::fs::write(
            dir.path().join("intermediate.ext"),
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )
        .expect("write intermediate.ext");
        let pki = TestPki { dir };
        let path = pki.path();
        pki.key("root.key", TestKey::EcP256);
        openssl(path, &["req", "-x509", "-new", "-key", "root.key", "-subj", "/O=certkeeper test/CN=Test Root R1", "-days", "3650", "-extensions", "v3", "-config", &pki.req_config("ca.ext"), "-out", "root.pem"]);
        pki.key("intermediate.key", TestKey::EcP256);
        openssl(path, &["req", "-new", "-key", "intermediate.key", "-subj", "/O=certkeeper test/CN=Test Intermediate I1", "-out", "intermediate.csr"]);
        openssl(path, &["x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "0x1001", "-days", "3600", "-extfile", "intermediate.ext", "-out", "intermediate.pem"]);
        pki
    }

    /// Returns the directory path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Returns the path of a file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Reads a file of the directory as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_else(|error| panic!("read {name}: {error}"))
    }

    /// Reads a file of the directory as bytes.
    pub fn read_bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap_or_else(|error| panic!("read {name}: {error}"))
    }

    fn req_config(&self, extensions: &str) -> String {
        let name = format!("{extensions}.cnf");
        let ext = std::fs::read_to_string(self.file(extensions)).expect("read extensions");
        std::fs::write(self.file(&name), format!("[req]\ndistinguished_name=dn\n[dn]\n[v3]\n{ext}")).expect("write req config");
        name
    }

    fn key(&self, name: &str, key: TestKey) {
        let mut args = vec!["genpkey"];
        args.extend(key.genpkey_args());
        args.extend(["-out", name]);
        openssl(self.path(), &args);
    }

    /// Issues a leaf `<stem>.pem` with key `<stem>.key` (PKCS#8) under the intermediate, for
    /// `names` (the first is the common name), valid from `start_days` (negative for the past)
    /// for `days`.
    pub fn leaf(&self, stem: &str, names: &[&str], key: TestKey, start_days: i64, days: i64) {
        self.leaf_with_extensions(stem, names, key, start_days, days, "");
    }

    /// Issues a leaf like [`TestPki::leaf`] with more extension lines in `openssl x509v3_config`
    /// form, such as `authorityInfoAccess=caIssuers;URI:http://127.0.0.1:8080/int.der`.
    pub fn leaf_with_extensions(&self, stem: &str, names: &[&str], key: TestKey, start_days: i64, days: i64, extensions: &str) {
        let key_file = format!("{stem}.key");
        self.key(&key_file, key);
        let san = names.iter().map(|name| format!("DNS:{name}")).collect::<Vec<_>>().join(",");
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName={san}\nauthorityKeyIdentifier=keyid\n{extensions}\n"
        );
        std::fs::write(self.file(&format!("{stem}.ext")), ext).expect("write leaf ext");
        openssl(self.path(), &["req", "-new", "-key", &key_file, "-subj", &format!("/CN={}", names[0]), "-out", &format!("{stem}.csr")]);
        self.sign_with_ca(stem, start_days, days);
    }

    /// Signs `<stem>.csr` with the intermediate through `openssl ca`, which (unlike `openssl
    /// x509` in OpenSSL 3.0) takes explicit start and end dates.
    fn sign_with_ca(&self, stem: &str, start_days: i64, days: i64) {
        let path = self.path();
        if !self.file("ca.cnf").exists() {
            std::fs::write(
                self.file("ca.cnf"),
                "[ca]\ndefault_ca=test\n[test]\ndatabase=index.txt\nnew_certs_dir=issued\nserial=serial\ndefault_md=sha256\n\
                 policy=any\nunique_subject=no\n[any]\ncommonName=supplied\norganizationName=optional\n",
            )
            .expect("write ca.cnf");
            std::fs::write(self.file("index.txt"), "").expect("write index.txt");
            std::fs::write(self.file("serial"), "2000\n").expect("write serial");
            std::fs::create_dir_all(self.file("issued")).expect("create issued");
        }
        let not_before = time_text(start_days);
        let not_after = time_text(start_days + days);
        openssl(
            path,
            &[
                "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "intermediate.pem", "-keyfile", "intermediate.key", "-in",
                &format!("{stem}.csr"), "-startdate", &not_before, "-enddate", &not_after, "-extfile", &format!("{stem}.ext"), "-out",
                &format!("{stem}.pem"),
            ],
        );
    }

    /// Writes the other encodings of `<stem>.key`: `<stem>.pkcs1.key` or `<stem>.sec1.key`,
    /// `<stem>.params.key` (SEC1 after an EC PARAMETERS block), `<stem>.enc8.key` (PBES2
    /// AES-256) and `<stem>.legacy.key` (Proc-Type encrypted, AES-256-CBC), the last two with
    /// password `password`.
    pub fn key_forms(&self, stem: &str, password: &str) {
        let path = self.path();
        let key = format!("{stem}.key");
        let text = openssl(path, &["pkey", "-in", &key, "-noout", "-text"]);
        let pass = format!("pass:{password}");
        if text.contains("RSA") || text.contains("Private-Key: (2048") || text.contains("modulus") {
            openssl(path, &["rsa", "-in", &key, "-traditional", "-out", &format!("{stem}.pkcs1.key")]);
            openssl(path, &["rsa", "-in", &key, "-traditional", "-aes256", "-passout", &pass, "-out", &format!("{stem}.legacy.key")]);
        } else {
            openssl(path, &["ec", "-in", &key, "-out", &format!("{stem}.sec1.key")]);
            // `openssl ecparam -genkey` writes an EC PARAMETERS block before the key.
            let curve = text.lines().find_map(|line| line.trim().strip_prefix("ASN1 OID:")).expect("EC key names its curve").trim().to_owned();
            let parameters = openssl(path, &["ecparam", "-name", &curve]);
            let sec1 = self.read(&format!("{stem}.sec1.key"));
            std::fs::write(self.file(&format!("{stem}.params.key")), format!("{parameters}{sec1}")).expect("write params key");
            openssl(path, &["ec", "-in", &key, "-aes256", "-passout", &pass, "-out", &format!("{stem}.legacy.key")]);
        }
        openssl(path, &["pkcs8", "-topk8", "-in", &key, "-v2", "aes-256-cbc", "-passout", &pass, "-out", &format!("{stem}.enc8.key")]);
    }

    /// Returns `<stem>.pem` followed by the intermediate, as PEM text.
    pub fn chain(&self, stem: &str) -> String {
        format!("{}{}", self.read(&format!("{stem}.pem")), self.read("intermediate.pem"))
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns the date `days` from now as a UTCTime (`YYMMDDHHMMSSZ`), the form `openssl ca
/// -startdate` takes.
fn time_text(days: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs() as i64;
    let at = now + days * 86_400;
    let (year, month, day, hour, minute, second) = civil(at);
    format!("{:02}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z", year % 100)
}

/// Converts Unix seconds to a UTC calendar date and time (days-from-civil inverse, proleptic
/// Gregorian calendar).
fn civil(unix: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, seconds / 3600, seconds % 3600 / 60, seconds % 60)
}
