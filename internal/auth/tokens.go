package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// tokenBytes is the entropy of an HTTP bearer token: 32 random bytes, as
// much as the signing keys, so guessing one is out of reach.
const tokenBytes = 32

// maxTokenFileBytes bounds what is read from a token file: a token is 43
// characters; anything much longer is not a token file of ours.
const maxTokenFileBytes = 4 << 10

// TokenFile is the path of a role's HTTP bearer token in dir
// (DATA/credentials/ROLE.token).
func TokenFile(dir string, r Role) string { return filepath.Join(dir, string(r)+".token") }

// Tokens holds the HTTP bearer token of every role.
type Tokens struct {
	roles  []Role
	tokens [][]byte
}

// ProvisionTokens loads the bearer token of every role from dir, writing a
// new random one (0600, base64url of 32 random bytes, then a newline) for
// each role that has no file. As for credentials files, an existing file is
// never overwritten: deleting DATA/credentials/ROLE.token and restarting
// revokes the old token. The second result lists the roles whose tokens
// were written on this call.
func ProvisionTokens(dir string, log *slog.Logger) (*Tokens, []Role, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ensurePrivateDir(dir); err != nil {
		return nil, nil, err
	}
	t := &Tokens{}
	var issued []Role
	for _, r := range Roles() {
		path := TokenFile(dir, r)
		tok, err := readToken(path)
		if errors.Is(err, fs.ErrNotExist) {
			raw := make([]byte, tokenBytes)
			if _, err := rand.Read(raw); err != nil {
				return nil, nil, fmt.Errorf("credentials: token: %w", err)
			}
			tok = []byte(base64.RawURLEncoding.EncodeToString(raw))
			if err := writeNew(path, append(bytes.Clone(tok), '\n')); err != nil {
				return nil, nil, err
			}
			issued = append(issued, r)
		} else if err != nil {
			return nil, nil, err
		} else if err := tighten(path, 0o600, log); err != nil {
			return nil, nil, err
		}
		t.roles = append(t.roles, r)
		t.tokens = append(t.tokens, tok)
	}
	return t, issued, nil
}

// readToken reads a token file; surrounding white space is not part of the
// token. An empty file is an error, never a token that matches nothing — or
// an empty Authorization header.
func readToken(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if len(b) > maxTokenFileBytes {
		return nil, fmt.Errorf("credentials: token file %s is over %d bytes: not a token", path, maxTokenFileBytes)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) < 16 {
		return nil, fmt.Errorf("credentials: token file %s holds %d characters, too short to be a token: remove it and restart to issue a new one", path, len(tok))
	}
	return tok, nil
}

// Role returns the role whose token is presented. Every role's token is
// compared in constant time, so the time taken says nothing about how much
// of a token was right, nor which role's it nearly was.
func (t *Tokens) Role(presented []byte) (Role, bool) {
	var found Role
	ok := 0
	for i, tok := range t.tokens {
		if subtle.ConstantTimeCompare(tok, presented) == 1 {
			found = t.roles[i]
			ok = 1
		}
	}
	return found, ok == 1
}

// Of returns a role's token (for tests and the ledger's own tools).
func (t *Tokens) Of(r Role) string {
	for i, rr := range t.roles {
		if rr == r {
			return string(t.tokens[i])
		}
	}
	return ""
}
