package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
)

// TestTLS serves HTTPS from -tls-cert/-tls-key and checks that HTTP/2 is
// negotiated by ALPN and the API answers over it.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(dir, "tls.db"), TLSCertFile: certFile, TLSKeyFile: keyFile})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	base := "https://" + a.Addr().String()

	resp, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("negotiated %s, want HTTP/2", resp.Proto)
	}
	admin := proactivechatv1connect.NewAdminServiceClient(client, base, connect.WithGRPC())
	req := connect.NewRequest(&pb.CreateSiteRequest{Name: "Secure shop"})
	req.Header().Set("Authorization", "Bearer "+a.InitialAPIKey)
	res, err := admin.CreateSite(context.Background(), req)
	if err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if res.Msg.GetSite().GetName() != "Secure shop" {
		t.Fatalf("site = %v", res.Msg.GetSite())
	}
	if resp, err := http.Get("http://" + a.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was served on the TLS port")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key := newKey(t)
	cert := issue(t, leafTemplate(), nil, key, key)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	certFile, keyFile = writeCert(t, dir, "cert", cert, key)
	return certFile, keyFile, pool
}

// testCA is a certificate authority made for a test, with a certificate
// it signed for 127.0.0.1, in PEM files as a node reads them.
type testCA struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool // trusts the CA
}

// newTestCA makes a CA and a certificate for 127.0.0.1 it signs, in dir.
func newTestCA(t testing.TB, dir string) *testCA {
	t.Helper()
	caKey := newKey(t)
	ca := issue(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "proactivechat test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, caKey, caKey)
	key := newKey(t)
	c := &testCA{pool: x509.NewCertPool()}
	c.pool.AddCert(ca)
	c.certFile, c.keyFile = writeCert(t, dir, "node", issue(t, leafTemplate(), ca, key, caKey), key)
	c.caFile, _ = writeCert(t, dir, "ca", ca, caKey)
	return c
}

// client is a TLS client configuration that trusts the CA.
func (c *testCA) client() *tls.Config { return &tls.Config{RootCAs: c.pool} }

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// leafTemplate is a certificate for 127.0.0.1, as a node's: it serves, and
// dials the NATS routes as a client.
func leafTemplate() *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "proactivechat test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// issue signs tmpl for key with parent (self-signed when nil) and
// parentKey.
func issue(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writeCert writes cert and key as dir/NAME.pem and dir/NAME-key.pem.
func writeCert(t testing.TB, dir, name string, cert *x509.Certificate, key *ecdsa.PrivateKey) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
