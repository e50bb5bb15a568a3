//! TLS material made at test time with Debian's `openssl` command, and two real TLS servers on
//! loopback: `openssl s_server` serving the files of a directory (`-WWW`), and [`tls_front`],
//! which terminates TLS (rustls) and passes each connection's bytes to a plaintext server such
//! as the fake Kubernetes API server. A CA, certificates it signs for the names a test needs. No
//! certificate is checked in, so none expires.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The `openssl` command the tests run (`scripts/test` installs it when missing).
const OPENSSL: &str = "/usr/bin/openssl";

/// A CA in a directory (`ca.pem`, `ca.key`) and the certificates it issued there.
#[derive(Debug)]
pub struct TestPki {
    dir: PathBuf,
    /// The CA certificate, PEM.
    pub ca_pem: String,
}

impl TestPki {
    /// Makes a CA (P-256 key, one day) in `dir`.
    ///
    /// # Panics
    ///
    /// Panics when `openssl` fails.
    pub fn new(dir: &Path) -> TestPki {
        TestPki::named(dir, "panoptes test ca")
    }

    /// Makes a CA whose common name is `cn`, e.g. a second CA that no certificate of the first
    /// names as issuer.
    ///
    /// # Panics
    ///
    /// Panics when `openssl` fails.
    pub fn named(dir: &Path, cn: &str) -> TestPki {
        let subject = format!("/CN={cn}");
        openssl(
            dir,
            &[&["req", "-x509"][..], KEY, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", &subject]]
                .concat(),
        );
        TestPki { dir: dir.to_owned(), ca_pem: std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem") }
    }

    /// Issues `<name>.pem` and `<name>.key` for the common name `cn` with the X.509 v3
    /// `extensions` (an openssl extension file, e.g. `subjectAltName=DNS:kubernetes`).
    ///
    /// # Panics
    ///
    /// Panics when `openssl` fails.
    pub fn issue(&self, name: &str, cn: &str, extensions: &str) {
        let (key, csr, pem, cnf) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.cnf"));
        let subject = format!("/CN={cn}");
        openssl(&self.dir, &[&["req"][..], KEY, &["-keyout", &key, "-out", &csr, "-subj", &subject]].concat());
        std::fs::write(self.dir.join(&cnf), extensions).expect("write extensions");
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "1",
                "-extfile",
                &cnf,
            ],
        );
    }

    /// Issues a server certificate `<name>.pem`/`.key` whose subject alternative names are
    /// `alt_names` (e.g. `DNS:kubernetes` or `IP:127.0.0.1,DNS:localhost`).
    pub fn issue_server(&self, name: &str, cn: &str, alt_names: &str) {
        self.issue(
            name,
            cn,
            &format!("subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
        );
    }

    /// Issues a client certificate `<name>.pem`/`.key`.
    pub fn issue_client(&self, name: &str, cn: &str) {
        self.issue(name, cn, "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    }

    /// Returns the path of a file in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Returns the text of a file in the directory.
    ///
    /// # Panics
    ///
    /// Panics when it cannot be read.
    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_else(|error| panic!("read {file}: {error}"))
    }
}

const KEY: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new(OPENSSL).args(args).current_dir(dir).output().expect("run openssl");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// `openssl s_server -WWW` on `127.0.0.1`: serves the files of the PKI's directory over TLS with
/// a certificate it issued. Killed on drop.
#[derive(Debug)]
pub struct OpensslServer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl OpensslServer {
    /// Starts the server with `<certificate>.pem`/`.key`; with `verify_clients`, it demands a
    /// client certificate of the CA.
    ///
    /// # Panics
    ///
    /// Panics when `openssl` cannot start or prints no address.
    pub fn start(pki: &TestPki, certificate: &str, verify_clients: bool) -> OpensslServer {
        let (cert, key) = (format!("{certificate}.pem"), format!("{certificate}.key"));
        let mut command = Command::new(OPENSSL);
        command.args(["s_server", "-WWW", "-accept", "127.0.0.1:0", "-cert", &cert, "-key", &key]);
        if verify_clients {
            command.args(["-Verify", "1", "-CAfile", "ca.pem"]);
        }
        let mut child = command
            .current_dir(&pki.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = loop {
            let line = lines.next().expect("s_server printed its address").expect("s_server output");
            if let Some(address) = line.strip_prefix("ACCEPT ") {
                break address.rsplit_once(':').expect("host:port").1.parse().expect("port");
            }
        };
        // Keep draining what s_server prints so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        OpensslServer { child, port }
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves TLS on a loopback port with the certificate `<certificate>.pem`/`.key` of `pki` and
/// passes every connection's plaintext to `backend`, so that a client sees exactly what a
/// server of `backend`'s protocol serving HTTPS would send. Runs until the runtime stops.
///
/// # Panics
///
/// Panics when the certificate or key cannot be read or used, or no port can be bound.
pub async fn tls_front(pki: &TestPki, certificate: &str, backend: SocketAddr) -> SocketAddr {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.path(&format!("{certificate}.pem")))
            .expect("server certificate")
            .collect::<Result<_, _>>()
            .expect("server certificate");
    let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{certificate}.key"))).expect("server key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .expect("server certificate and key");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client refusing the certificate ends the handshake; nothing to pass on then.
                let Ok(mut tls) = acceptor.accept(connection).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    address
}
