package domain

import (
	"testing"

	"github.com/benefits-ledger/ledger/internal/doccheck"
)

// TestExportedNamesDocumented: every exported name of the package has a
// doc comment (what it returns, its errors, lifetimes: bbolt's style).
func TestExportedNamesDocumented(t *testing.T) { doccheck.Check(t, ".") }
