package projections

import (
	"strings"
	"testing"

	"github.com/benefits-ledger/ledger/internal/doccheck"
)

// TestExportedNamesDocumented: every exported name of the package has a
// doc comment (what it returns, its errors, lifetimes: bbolt's style).
func TestExportedNamesDocumented(t *testing.T) {
	missing, total, err := doccheck.Undocumented(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d exported names have no doc comment:\n%s", len(missing), total, strings.Join(missing, "\n"))
	}
}
