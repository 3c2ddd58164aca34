package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// selfSignedCert writes a self-signed certificate for 127.0.0.1 and its key
// (PEM) into dir and returns their paths; the certificate is its own CA.
func selfSignedCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ledger test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLSClientListener: with a certificate and key, clients connect over
// TLS (tls:// URL, the CA to trust) and still need credentials; the ledger's
// own in-process connection is unaffected.
func TestTLSClientListener(t *testing.T) {
	cert, key := selfSignedCert(t, t.TempDir())
	l := start(t, Config{TLSCert: cert, TLSKey: key})
	if !strings.HasPrefix(l.ClientURL(), "tls://127.0.0.1:") {
		t.Fatalf("ClientURL = %s, want tls://", l.ClientURL())
	}
	nc, err := nats.Connect(l.ClientURL(), nats.RootCAs(cert), credsOf(l, "billing"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.TLSRequired() {
		t.Error("connection is not TLS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rpc.NewClient(nc).Query(ctx, rpc.EndpointStats, ledger.Query{}); err != nil {
		t.Fatalf("stats over TLS: %v", err)
	}
	plain := "nats://" + strings.TrimPrefix(l.ClientURL(), "tls://")
	for name, opts := range map[string][]nats.Option{
		"TLS without credentials":  {nats.RootCAs(cert)},
		"credentials, CA unknown":  {credsOf(l, "billing")},
		"plain URL, CA unknown":    {credsOf(l, "billing"), nats.Timeout(2 * time.Second)},
		"credentials, no TLS root": {credsOf(l, "admin"), nats.Secure(nil)},
	} {
		url := l.ClientURL()
		if strings.HasPrefix(name, "plain") {
			url = plain
		}
		if nc, err := nats.Connect(url, opts...); err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else {
			t.Logf("%s: refused: %v", name, err)
		}
	}
}

func TestTLSNeedsCertAndKey(t *testing.T) {
	cert, _ := selfSignedCert(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Start(ctx, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TLSCert: cert})
	if err == nil {
		l.Close()
		t.Fatal("started with a certificate and no key")
	}
}
