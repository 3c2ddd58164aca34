package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// KeysFile is the file in the credentials directory that holds the signing
// material: the operator's seed, every account's seed and the seed of each
// identity's scoped signing key. Whoever reads it can mint credentials, so
// it is 0600 in a 0700 directory, like the credentials files.
const KeysFile = "keys.json"

// CredsFile is the path of an identity's credentials file in dir.
func CredsFile(dir, identity string) string { return filepath.Join(dir, identity+".creds") }

// Material is what the embedded server and the ledger's own connection need,
// derived on every start from the signing material and the model in this
// package. Account JWTs (and so the permissions) are re-issued on every
// start: a change of the model reaches credentials issued before it.
type Material struct {
	OperatorJWT   string
	SystemAccount string            // public key of the system account
	LedgerAccount string            // public key of the account that holds the stream
	AccountJWTs   map[string]string // account public key → account JWT

	// The ledger's own user for its in-process connection, minted on this
	// start (the ledger.creds file is for other ledger processes).
	ServiceJWT  string
	ServiceSeed []byte

	// RouteUser and RoutePassword authenticate the routes between the nodes
	// of a cluster. The password is derived from the operator's seed, so
	// nodes that share the signing material (a copy of the credentials
	// directory) agree on it without another secret to distribute.
	RouteUser, RoutePassword string

	Issued []string // identities whose credentials files were written on this start
}

// keyFile is the JSON form of KeysFile.
type keyFile struct {
	Version  int               `json:"version"`
	Operator string            `json:"operator"`
	Accounts map[string]string `json:"accounts"` // account name → account seed
	Signers  map[string]string `json:"signers"`  // identity → seed of its scoped signing key
}

const keyFileVersion = 1

// Provision loads the signing material in dir, creating it on first use,
// writes a credentials file for every identity that has none, and returns
// the JWTs the server needs.
//
// An existing credentials file is never overwritten. A missing one is issued
// anew under a new signing key for that identity, so deleting
// DATA/credentials/ROLE.creds and restarting revokes every copy of the old
// file. Credentials files without the signing material are an error: new
// keys would silently invalidate them.
func Provision(dir string, log *slog.Logger) (*Material, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	k, created, err := loadKeys(dir)
	if err != nil {
		return nil, err
	}
	// Fill in what is missing (everything on first start; a new role's
	// account or signer after an upgrade) and rotate the signer of every
	// identity whose credentials file is gone.
	changed := created
	newSeed := func(create func() (nkeys.KeyPair, error)) (string, error) {
		kp, err := create()
		if err != nil {
			return "", err
		}
		seed, err := kp.Seed()
		return string(seed), err
	}
	if k.Operator == "" {
		if k.Operator, err = newSeed(nkeys.CreateOperator); err != nil {
			return nil, err
		}
		changed = true
	}
	for _, name := range accountNames() {
		if k.Accounts[name] == "" {
			if k.Accounts[name], err = newSeed(nkeys.CreateAccount); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	var missing []string
	for _, id := range Identities() {
		path := CredsFile(dir, id)
		if err := k.retireMovedCreds(path, id, log); err != nil {
			return nil, err
		}
		_, statErr := os.Stat(path)
		exists := statErr == nil
		if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
			return nil, fmt.Errorf("credentials: %w", statErr)
		}
		if k.Signers[id] == "" || !exists {
			if k.Signers[id] != "" {
				log.Warn("credentials file missing: issuing new credentials; copies of the old file stop working", "identity", id, "file", path)
			}
			if k.Signers[id], err = newSeed(nkeys.CreateAccount); err != nil {
				return nil, err
			}
			changed = true
		}
		if !exists {
			missing = append(missing, id)
		}
	}
	if changed {
		// Persist the keys before anything is signed with them.
		if err := writeKeys(dir, k); err != nil {
			return nil, err
		}
	}

	m, err := k.material()
	if err != nil {
		return nil, err
	}
	for _, id := range Identities() {
		path := CredsFile(dir, id)
		if !slices.Contains(missing, id) {
			if err := k.checkCreds(path, id); err != nil {
				log.Warn("credentials file not usable with this ledger's keys: the server will refuse it; remove it and restart to issue new credentials",
					"identity", id, "file", path, "problem", err)
			}
			if err := tighten(path, 0o600, log); err != nil {
				return nil, err
			}
			continue
		}
		userJWT, seed, err := k.issueUser(id)
		if err != nil {
			return nil, err
		}
		creds, err := jwt.FormatUserConfig(userJWT, seed)
		if err != nil {
			return nil, err
		}
		if err := writeNew(path, creds); err != nil {
			return nil, err
		}
		m.Issued = append(m.Issued, id)
	}
	if m.ServiceJWT, m.ServiceSeed, err = k.issueUser(ServiceUser); err != nil {
		return nil, err
	}
	if err := tighten(filepath.Join(dir, KeysFile), 0o600, log); err != nil {
		return nil, err
	}
	return m, nil
}

// accountNames lists every account: system, ledger, one per submitting role.
func accountNames() []string {
	names := []string{SystemAccountName, LedgerAccountName}
	for _, r := range roleAccounts() {
		names = append(names, string(r))
	}
	return names
}

func kp(seed string) (nkeys.KeyPair, string, error) {
	k, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		return nil, "", err
	}
	pub, err := k.PublicKey()
	return k, pub, err
}

func (k *keyFile) account(name string) (nkeys.KeyPair, string, error) {
	a, pub, err := kp(k.Accounts[name])
	if err != nil {
		return nil, "", fmt.Errorf("credentials: account %s key: %w", name, err)
	}
	return a, pub, nil
}

// scopedSigner is the signing key of an identity: the account lists it with
// the identity's permissions as its template, and the server applies that
// template to every user the key issued.
func (k *keyFile) scopedSigner(id string) (nkeys.KeyPair, *jwt.UserScope, error) {
	s, pub, err := kp(k.Signers[id])
	if err != nil {
		return nil, nil, fmt.Errorf("credentials: signing key of %s: %w", id, err)
	}
	scope := jwt.NewUserScope()
	scope.Key = pub
	scope.Role = id
	scope.Description = "users of identity " + id
	scope.Template.Permissions = Permissions(id)
	return s, scope, nil
}

// material builds the operator and account JWTs.
func (k *keyFile) material() (*Material, error) {
	op, opPub, err := kp(k.Operator)
	if err != nil {
		return nil, fmt.Errorf("credentials: operator key: %w", err)
	}
	m := &Material{AccountJWTs: map[string]string{}}
	pubs := map[string]string{}
	for _, name := range accountNames() {
		_, pub, err := k.account(name)
		if err != nil {
			return nil, err
		}
		pubs[name] = pub
	}
	m.SystemAccount, m.LedgerAccount = pubs[SystemAccountName], pubs[LedgerAccountName]
	for _, name := range accountNames() {
		ac := jwt.NewAccountClaims(pubs[name])
		ac.Name = name
		switch name {
		case SystemAccountName:
		case LedgerAccountName:
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
				Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit}
			ac.Exports = ledgerExports()
		default:
			ac.Imports = roleImports(Role(name), m.LedgerAccount)
		}
		for _, id := range Identities() {
			if accountOf(id) != name {
				continue
			}
			_, scope, err := k.scopedSigner(id)
			if err != nil {
				return nil, err
			}
			ac.SigningKeys.AddScopedSigner(scope)
		}
		if m.AccountJWTs[pubs[name]], err = encodeValid(ac, op); err != nil {
			return nil, fmt.Errorf("credentials: account %s: %w", name, err)
		}
	}
	m.RouteUser, m.RoutePassword = "route", routePassword(k.Operator)
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "benefits-ledger"
	oc.SystemAccount = m.SystemAccount
	if m.OperatorJWT, err = encodeValid(oc, op); err != nil {
		return nil, fmt.Errorf("credentials: operator: %w", err)
	}
	return m, nil
}

// routePassword derives the cluster's route password from the operator seed
// (a one-way hash under a label of its own: it reveals nothing of the seed).
func routePassword(operatorSeed string) string {
	h := sha256.Sum256([]byte("benefits-ledger route password v1\x00" + operatorSeed))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// encodeValid signs claims after validating them (Encode reports only
// blocking errors; a warning about the model is a bug here too).
func encodeValid(c jwt.Claims, signer nkeys.KeyPair) (string, error) {
	var vr jwt.ValidationResults
	c.Validate(&vr)
	if len(vr.Issues) > 0 {
		var msgs []string
		for _, is := range vr.Issues {
			msgs = append(msgs, is.Description)
		}
		return "", errors.New(strings.Join(msgs, "; "))
	}
	return c.Encode(signer)
}

// issueUser mints a new user for an identity: a fresh user key, a JWT issued
// by the identity's scoped signing key on behalf of its account.
func (k *keyFile) issueUser(id string) (string, []byte, error) {
	signer, _, err := k.scopedSigner(id)
	if err != nil {
		return "", nil, err
	}
	_, accPub, err := k.account(accountOf(id))
	if err != nil {
		return "", nil, err
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return "", nil, err
	}
	userPub, _ := user.PublicKey()
	seed, err := user.Seed()
	if err != nil {
		return "", nil, err
	}
	uc := jwt.NewUserClaims(userPub)
	uc.Name = id
	uc.IssuerAccount = accPub
	uc.SetScoped(true)
	tok, err := encodeValid(uc, signer)
	if err != nil {
		return "", nil, fmt.Errorf("credentials: user %s: %w", id, err)
	}
	return tok, seed, nil
}

// checkCreds reports why an existing credentials file would be refused.
func (k *keyFile) checkCreds(path, id string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return err
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return fmt.Errorf("user JWT: %w", err)
	}
	if _, err := jwt.ParseDecoratedUserNKey(b); err != nil {
		return fmt.Errorf("user seed: %w", err)
	}
	_, signerPub, err := kp(k.Signers[id])
	if err != nil {
		return err
	}
	_, accPub, err := k.account(accountOf(id))
	if err != nil {
		return err
	}
	if uc.Issuer != signerPub || uc.IssuerAccount != accPub {
		return errors.New("not issued by this ledger's signing key for " + id)
	}
	return nil
}

// retireMovedCreds moves aside a credentials file issued for another of
// this ledger's accounts than the identity lives in now (admin and auditor
// lived in the stream's account before they got accounts of their own). Such
// a file no longer works — its user's account no longer lists the signing
// key — so it is renamed to ID.creds.retired-TIME and a new one is issued in
// its place, with a warning naming both.
func (k *keyFile) retireMovedCreds(path, id string, log *slog.Logger) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil // missing or unreadable: handled by the caller's checks
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return nil
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return nil
	}
	_, want, err := k.account(accountOf(id))
	if err != nil {
		return err
	}
	if uc.IssuerAccount == "" || uc.IssuerAccount == want {
		return nil
	}
	ours := false
	for name := range k.Accounts {
		if _, pub, err := k.account(name); err == nil && pub == uc.IssuerAccount {
			ours = true
		}
	}
	if !ours {
		return nil
	}
	aside := path + ".retired-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	log.Warn("credentials file was issued for the account this identity lived in before; it no longer works: moved aside, a new one is issued",
		"identity", id, "file", path, "moved_to", aside)
	return nil
}

// loadKeys reads KeysFile; a missing one starts empty (created=true) unless
// credentials files already exist.
func loadKeys(dir string) (*keyFile, bool, error) {
	path := filepath.Join(dir, KeysFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if existing, _ := filepath.Glob(filepath.Join(dir, "*.creds")); len(existing) > 0 {
			return nil, false, fmt.Errorf("credentials: %s has credentials files but no %s: new signing keys would make them useless; "+
				"restore %s or move the credentials files away", dir, KeysFile, KeysFile)
		}
		return &keyFile{Version: keyFileVersion, Accounts: map[string]string{}, Signers: map[string]string{}}, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("credentials: %w", err)
	}
	var k keyFile
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, false, fmt.Errorf("credentials: %s: %w", path, err)
	}
	if k.Version != keyFileVersion {
		return nil, false, fmt.Errorf("credentials: %s: version %d, this ledger knows %d", path, k.Version, keyFileVersion)
	}
	if k.Accounts == nil {
		k.Accounts = map[string]string{}
	}
	if k.Signers == nil {
		k.Signers = map[string]string{}
	}
	return &k, false, nil
}

// writeKeys replaces KeysFile atomically.
func writeKeys(dir string, k *keyFile) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".keys-*.tmp")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, append(b, '\n')); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, KeysFile)); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return syncDir(dir)
}

// writeNew writes a new 0600 file and never replaces an existing one: it is
// written aside and hard-linked into place, which fails if the name exists.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".creds-*.tmp")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, data); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return syncDir(dir)
}

// writeSync writes, fsyncs and closes a file created by os.CreateTemp (0600).
func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("credentials: write %s: %w", f.Name(), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("credentials: sync %s: %w", dir, err)
	}
	return nil
}

// ensurePrivateDir creates dir 0700, or tightens an existing one.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return tighten(dir, 0o700, nil)
}

// tighten removes permission bits beyond mode from an existing path.
func tighten(path string, mode fs.FileMode, log *slog.Logger) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if st.Mode().Perm()&^mode == 0 {
		return nil
	}
	if log != nil {
		log.Warn("credentials: tightening permissions", "path", path, "was", st.Mode().Perm().String(), "now", mode.String())
	}
	if err := os.Chmod(path, st.Mode().Perm()&mode); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}
