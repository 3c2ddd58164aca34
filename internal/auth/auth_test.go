package auth

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

var allTypes = []string{
	domain.TypeOfferPublished, domain.TypeOfferDelisted, domain.TypePartnerEnrolled, domain.TypeMarketingContactAssigned,
	domain.TypeSaleBilled, domain.TypeSaleFlaggedFraud, domain.TypeSaleFraudCleared, domain.TypePurchaseCancelled,
	domain.TypeMetricReported, domain.TypeBenefitActivated, domain.TypeRewardsTeamContacted, domain.TypeEngagementOptedOut,
	domain.TypeEngagementOptedIn, domain.TypePartnerSanctioned, domain.TypePartnerReinstated,
}

// TestEveryTypeHasOneOwner: the submitting roles partition the event types;
// admin submits all of them, the auditor none.
func TestEveryTypeHasOneOwner(t *testing.T) {
	for _, typ := range allTypes {
		var owners []Role
		for _, r := range []Role{Billing, Storefront, RewardsTeam, Compliance} {
			if r.MaySubmit(typ) {
				owners = append(owners, r)
			}
		}
		if len(owners) != 1 {
			t.Errorf("%s: owned by %v", typ, owners)
		}
		if !Admin.MaySubmit(typ) || Admin.CheckSubmit(typ) != nil {
			t.Errorf("admin may not submit %s", typ)
		}
		if Auditor.MaySubmit(typ) || Auditor.CheckSubmit(typ) == nil {
			t.Errorf("auditor may submit %s", typ)
		}
	}
	n := 0
	for _, types := range submits {
		n += len(types)
	}
	if n != len(allTypes) {
		t.Errorf("the roles list %d types, the domain has %d", n, len(allTypes))
	}
	if err := Billing.CheckSubmit(domain.TypeOfferPublished); err == nil ||
		!strings.Contains(err.Error(), "role billing may not submit OfferPublished") || !strings.Contains(err.Error(), "SaleBilled") {
		t.Errorf("billing/OfferPublished: %v", err)
	}
	if err := Auditor.CheckSubmit(domain.TypeSaleBilled); err == nil || !strings.Contains(err.Error(), "role auditor") {
		t.Errorf("auditor/SaleBilled: %v", err)
	}
}

func TestRoleOfSubject(t *testing.T) {
	for subj, want := range map[string]Role{
		"ledger.submit":              Admin,
		"ledger.submit.billing":      Billing,
		"ledger.submit.rewards-team": RewardsTeam,
	} {
		if got, err := RoleOfSubject(subj); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", subj, got, err, want)
		}
	}
	for _, subj := range []string{"ledger.submit.root", "ledger.submit.", "ledger.submit.billing.x"} {
		if r, err := RoleOfSubject(subj); err == nil {
			t.Errorf("%s: role %s", subj, r)
		}
	}
}

// TestPermissions: what each identity may publish, as the server sees it.
func TestPermissions(t *testing.T) {
	may := func(p jwt.Permissions, subj string) bool {
		for _, d := range p.Pub.Deny {
			if matches(d, subj) {
				return false
			}
		}
		if len(p.Pub.Allow) == 0 {
			return true
		}
		for _, a := range p.Pub.Allow {
			if matches(a, subj) {
				return true
			}
		}
		return false
	}
	if p := Permissions(ServiceUser); len(p.Pub.Allow)+len(p.Pub.Deny)+len(p.Sub.Allow)+len(p.Sub.Deny) != 0 {
		t.Errorf("service user is restricted: %+v", p)
	}
	for _, r := range Roles() {
		p := Permissions(string(r))
		for _, subj := range []string{"ledger.events.P-1.SaleBilled", "ledger.submit.admin", "ledger.submit.billing",
			"$JS.API.STREAM.DELETE.LEDGER", "$JS.API.STREAM.UPDATE.LEDGER", "$JS.API.STREAM.PURGE.LEDGER",
			"$JS.API.STREAM.MSG.DELETE.LEDGER", "$JS.API.STREAM.CREATE.X", "$JS.API.CONSUMER.LIST.LEDGER", "_INBOX.x"} {
			if may(p, subj) {
				t.Errorf("%s may publish %s", r, subj)
			}
		}
		for _, subj := range append([]string{"$SRV.PING", "$SRV.INFO.ledger"}, QuerySubjects...) {
			if !may(p, subj) {
				t.Errorf("%s may not publish %s", r, subj)
			}
		}
		if got := may(p, SubjectSubmit); got != r.MaySubmitAny() {
			t.Errorf("%s publish ledger.submit: %v", r, got)
		}
		reads := r == Admin || r == Auditor
		for _, subj := range []string{"$JS.API.STREAM.INFO.LEDGER", "$JS.API.CONSUMER.CREATE.LEDGER.x.ledger.events.>", "$JS.API.CONSUMER.MSG.NEXT.LEDGER.x"} {
			if may(p, subj) != reads {
				t.Errorf("%s publish %s: %v", r, subj, !reads)
			}
		}
		if may(p, SubjectRebuild) != (r == Admin) || may(p, SubjectBackup) != (r == Admin) || may(p, SubjectVerify) != reads {
			t.Errorf("%s: verify/rebuild permissions wrong", r)
		}
		for _, subj := range ScanSubjects {
			if may(p, subj) != reads {
				t.Errorf("%s publish %s: %v", r, subj, !reads)
			}
		}
		if !may(p, "ledger.policy") {
			t.Errorf("%s may not read the policy", r)
		}
		if len(p.Sub.Allow) != 1 || p.Sub.Allow[0] != "_INBOX.>" {
			t.Errorf("%s subscribes %v", r, p.Sub.Allow)
		}
	}
}

// matches is NATS subject matching (pattern may hold * and >).
func matches(pattern, subj string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subj, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func TestProvision(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "credentials")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m, err := Provision(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Issued) != len(Identities()) {
		t.Errorf("issued %v", m.Issued)
	}
	if len(m.AccountJWTs) != 2+len(roleAccounts()) {
		t.Errorf("%d accounts", len(m.AccountJWTs))
	}
	for pub, tok := range m.AccountJWTs {
		ac, err := jwt.DecodeAccountClaims(tok)
		if err != nil || ac.Subject != pub {
			t.Fatalf("account %s: %v", pub, err)
		}
		var vr jwt.ValidationResults
		ac.Validate(&vr)
		if len(vr.Issues) > 0 {
			t.Errorf("account %s: %v", ac.Name, vr.Issues)
		}
		if (ac.Name == LedgerAccountName) != ac.Limits.IsJSEnabled() {
			t.Errorf("account %s: JetStream enabled %v", ac.Name, ac.Limits.IsJSEnabled())
		}
	}
	first, _ := os.ReadFile(CredsFile(dir, "billing"))

	// Loosened permissions are tightened; files are kept.
	if err := os.Chmod(CredsFile(dir, "billing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m2, err := Provision(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Issued) != 0 || m2.LedgerAccount != m.LedgerAccount || m2.SystemAccount != m.SystemAccount {
		t.Errorf("second start changed identities: %+v", m2.Issued)
	}
	again, _ := os.ReadFile(CredsFile(dir, "billing"))
	if !bytes.Equal(first, again) {
		t.Error("billing.creds rewritten")
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, CredsFile(dir, "billing"): 0o600, filepath.Join(dir, KeysFile): 0o600} {
		if st, _ := os.Stat(p); st.Mode().Perm() != want {
			t.Errorf("%s: %v, want %v", p, st.Mode().Perm(), want)
		}
	}

	// A file that is not this ledger's is kept, with a warning.
	if err := os.WriteFile(CredsFile(dir, "compliance"), []byte("not credentials"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if _, err := Provision(dir, log); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(CredsFile(dir, "compliance")); string(b) != "not credentials" {
		t.Error("an existing file was overwritten")
	}
	if !strings.Contains(logs.String(), "compliance") {
		t.Errorf("no warning about compliance.creds: %s", logs.String())
	}
}

// TestProvisionRetiresCredsOfAMovedIdentity: a credentials file issued for
// the account an identity lived in before (the admin and the auditor lived
// in the stream's account) is moved aside and a new one issued in the
// identity's own account.
func TestProvisionRetiresCredsOfAMovedIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "credentials")
	if _, err := Provision(dir, nil); err != nil {
		t.Fatal(err)
	}
	k, _, err := loadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The admin's file as the old model issued it: on behalf of the ledger account.
	signer, _, err := k.scopedSigner(string(Admin))
	if err != nil {
		t.Fatal(err)
	}
	_, ledgerPub, _ := k.account(LedgerAccountName)
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	seed, _ := user.Seed()
	uc := jwt.NewUserClaims(userPub)
	uc.Name, uc.IssuerAccount = string(Admin), ledgerPub
	uc.SetScoped(true)
	tok, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := jwt.FormatUserConfig(tok, seed)
	path := CredsFile(dir, string(Admin))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Provision(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(m.Issued, string(Admin)) {
		t.Errorf("admin not issued anew: %v", m.Issued)
	}
	retired, _ := filepath.Glob(path + ".retired-*")
	if len(retired) != 1 {
		t.Fatalf("retired files: %v", retired)
	}
	if b, _ := os.ReadFile(retired[0]); !bytes.Equal(b, old) {
		t.Error("the retired file is not the old one")
	}
	if err := k.checkCreds(path, string(Admin)); err == nil {
		t.Error("the old signing key still validates the new file (it should have rotated)")
	}
	k2, _, _ := loadKeys(dir)
	if err := k2.checkCreds(path, string(Admin)); err != nil {
		t.Errorf("new admin.creds: %v", err)
	}
}
