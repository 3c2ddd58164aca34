package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// run runs the ledger binary as a client in dir (a fresh one if empty) with
// exactly the LEDGER_* environment given (none inherited).
func (s *server) run(dir string, env []string, stdin []byte, args ...string) (string, string, int) {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LEDGER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	if dir == "" {
		dir = s.t.TempDir()
	}
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("ledger %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// as runs a client command with a role's credentials.
func (s *server) as(role string, stdin []byte, args ...string) (string, string, int) {
	s.t.Helper()
	return s.run("", []string{"LEDGER_NATS_URL=" + s.url, "LEDGER_CREDS=" + app.CredsFile(s.data, role)}, stdin, args...)
}

func envelope(id, typ, at string, data map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test/cli", "type": typ, "time": at, "data": data})
	return append(b, '\n')
}

var (
	cliOffer = envelope("cli-1", "OfferPublished", "2024-01-10T00:00:00Z", map[string]any{"offer_id": "O-1", "partner_id": "P-1",
		"publisher_id": "PUB", "listing_type": "transact", "storefront": "appsource"})
	cliEnrol = envelope("cli-2", "PartnerEnrolled", "2024-01-11T00:00:00Z", map[string]any{"partner_id": "P-1", "name": "Contoso",
		"account_email": "admin@contoso.example"})
	cliSale = envelope("cli-3", "SaleBilled", "2024-02-01T00:00:00Z", map[string]any{"sale_id": "S-1", "offer_id": "O-1",
		"customer_id": "C-1", "amount_usd_cents": 2000000})
)

func submitResults(t *testing.T, out string) []ledger.LineResult {
	t.Helper()
	var rs []ledger.LineResult
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r ledger.LineResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("submit --json line %q: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestCLIRoles: each role through the ledger command, as users run it.
func TestCLIRoles(t *testing.T) {
	s := startServer(t, t.TempDir())

	// The storefront publishes the offer; billing may not enrol the partner
	// but may bill a sale, in the same request.
	if out, errs, code := s.as("storefront", cliOffer, "submit", "--json", "-"); code != exitOK {
		t.Fatalf("storefront submit: exit %d: %s %s", code, out, errs)
	}
	out, _, code := s.as("billing", append(append([]byte{}, cliEnrol...), cliSale...), "submit", "--json", "-")
	if code != exitRejected {
		t.Errorf("billing submit with a forbidden line: exit %d, want %d", code, exitRejected)
	}
	rs := submitResults(t, out)
	if len(rs) != 2 || rs[0].Code != domain.CodeForbidden || !strings.Contains(rs[0].Error, "billing") || !rs[1].OK {
		t.Errorf("billing submit: %+v, want forbidden then accepted", rs)
	}
	// Without --json the rejection is readable.
	if out, _, _ := s.as("billing", cliEnrol, "submit", "-"); !strings.Contains(out, "forbidden: role billing may not submit PartnerEnrolled") {
		t.Errorf("billing submit output: %q", out)
	}

	// The auditor cannot submit at all: a clear error from the server's
	// refusal (a waited-out request would say timeout), not a retry loop.
	_, errs, code := s.as("auditor", cliEnrol, "submit", "-")
	if code == exitOK || !strings.Contains(errs, "may not call ledger.submit") {
		t.Errorf("auditor submit: exit %d: %s", code, errs)
	}
	// But it queries, and replays the log itself.
	if out, errs, code := s.as("auditor", nil, "tier", "P-1", "--json"); code != exitOK || !strings.Contains(out, `"partner_id":"P-1"`) {
		t.Errorf("auditor tier: exit %d: %s %s", code, out, errs)
	}
	replay := filepath.Join(t.TempDir(), "replay.db")
	if out, errs, code := s.as("auditor", nil, "replay", "--out", replay); code != exitOK {
		t.Errorf("auditor replay: exit %d: %s %s", code, out, errs)
	}
	if out, errs, code := s.as("auditor", nil, "verify"); code != exitOK {
		t.Errorf("auditor verify: exit %d: %s %s", code, out, errs)
	}
	// Rebuild is the admin's.
	if _, errs, code := s.as("auditor", nil, "rebuild"); code == exitOK || !strings.Contains(errs, "may not call ledger.rebuild") {
		t.Errorf("auditor rebuild: exit %d: %s", code, errs)
	}
	if out, errs, code := s.as("admin", nil, "rebuild"); code != exitOK {
		t.Errorf("admin rebuild: exit %d: %s %s", code, out, errs)
	}
	// So is the backup.
	if _, errs, code := s.as("auditor", nil, "backup"); code == exitOK || !strings.Contains(errs, "may not call ledger.backup") {
		t.Errorf("auditor backup: exit %d: %s", code, errs)
	}
	if out, errs, code := s.as("admin", nil, "backup"); code != exitOK || !strings.Contains(out, "read models backed up at sequence") {
		t.Errorf("admin backup: exit %d: %s %s", code, out, errs)
	}
	for _, r := range auth.Roles() {
		if out, errs, code := s.as(string(r), nil, "stats", "--json"); code != exitOK {
			t.Errorf("%s stats: exit %d: %s %s", r, code, out, errs)
		}
	}
}

// TestCLINeedsCredentials: no credentials, no access; a newcomer in the
// directory `ledger serve` ran in needs nothing more.
func TestCLINeedsCredentials(t *testing.T) {
	home := t.TempDir()
	s := startServer(t, filepath.Join(home, "ledger-data"))
	_, errs, code := s.run("", []string{"LEDGER_NATS_URL=" + s.url}, nil, "stats")
	if code != exitError || !strings.Contains(errs, "no credentials") {
		t.Errorf("stats without credentials: exit %d: %s", code, errs)
	}
	other := startServer(t, t.TempDir())
	_, errs, code = s.run("", []string{"LEDGER_NATS_URL=" + s.url, "LEDGER_CREDS=" + app.CredsFile(other.data, "admin")}, nil, "stats")
	if code != exitError || !strings.Contains(errs, "refused the credentials") {
		t.Errorf("stats with another ledger's credentials: exit %d: %s", code, errs)
	}
	// ./ledger-data/credentials/admin.creds is found without a flag.
	if out, errs, code := s.run(home, []string{"LEDGER_NATS_URL=" + s.url}, nil, "stats"); code != exitOK {
		t.Errorf("stats next to ledger-data: exit %d: %s %s", code, out, errs)
	}
	// --creds wins over the environment.
	if out, errs, code := s.run("", []string{"LEDGER_NATS_URL=" + s.url, "LEDGER_CREDS=/nonexistent"}, nil,
		"stats", "--creds", app.CredsFile(s.data, "compliance")); code != exitOK {
		t.Errorf("stats --creds: exit %d: %s %s", code, out, errs)
	}
}

// TestServeWritesCredentialsOnce: `ledger serve` writes 0600 credentials in
// a 0700 directory on first start and keeps them across restarts.
func TestServeWritesCredentialsOnce(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	dir := app.CredentialsDir(data)
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v", dir, st.Mode(), err)
	}
	before := map[string]string{}
	for _, id := range auth.Identities() {
		p := app.CredsFile(data, id)
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v", p, err)
		}
		b, _ := os.ReadFile(p)
		before[p] = string(b)
	}
	if _, errs, code := s.as("storefront", cliOffer, "submit", "-"); code != exitOK {
		t.Fatalf("submit: %s", errs)
	}
	s.stop()
	s = startServer(t, data)
	for p, b := range before {
		if now, _ := os.ReadFile(p); string(now) != b {
			t.Errorf("%s rewritten by a restart", p)
		}
	}
	if out, _, code := s.as("storefront", cliOffer, "submit", "--json", "-"); code != exitOK || !submitResults(t, out)[0].Duplicate {
		t.Errorf("resubmit after restart: exit %d %s", code, out)
	}
}

// TestServeTLS: --tls-cert/--tls-key put TLS on the client listener;
// clients use a tls:// URL and --tls-ca.
func TestServeTLS(t *testing.T) {
	cert, key := cliCert(t)
	s := startServer(t, t.TempDir(), "--tls-cert", cert, "--tls-key", key)
	url := "tls://" + strings.TrimPrefix(s.url, "nats://")
	env := []string{"LEDGER_NATS_URL=" + url, "LEDGER_CREDS=" + app.CredsFile(s.data, "admin")}
	if out, errs, code := s.run("", env, nil, "stats", "--tls-ca", cert); code != exitOK {
		t.Errorf("stats over TLS: exit %d: %s %s", code, out, errs)
	}
	if _, errs, code := s.run("", env, nil, "stats"); code != exitError {
		t.Errorf("stats without the CA: exit %d: %s", code, errs)
	}
	if out, errs, code := s.run("", append(env, "LEDGER_TLS_CA="+cert), nil, "stats"); code != exitOK {
		t.Errorf("stats with $LEDGER_TLS_CA: exit %d: %s %s", code, out, errs)
	}
}

func cliCert(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ledger test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, keyFile
}
