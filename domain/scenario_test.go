package domain_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/scenario"
)

// bookLedger runs scenarios through the pure domain: the reference Book.
type bookLedger struct{ b *domain.Book }

func (l bookLedger) Submit(lines [][]byte) ([]scenario.LineResult, error) {
	var out []scenario.LineResult
	for _, line := range lines {
		r := l.b.Submit(line, time.Now())
		out = append(out, scenario.LineResult{OK: r.Err == nil, Seq: r.Seq, Duplicate: r.Duplicate, Code: string(domain.CodeOf(r.Err))})
	}
	return out, nil
}

func (l bookLedger) Query(kind, partner, at string, known uint64) ([]byte, error) {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil, err
	}
	echo := known
	if known == 0 {
		known, echo = domain.AllKnown, l.b.LastSeq()
	}
	p := l.b.Partner(partner)
	if p == nil || !p.KnownAt(known) {
		return nil, fmt.Errorf("unknown partner %s", partner)
	}
	v := domain.Compile(l.b.Policy(), p, known)
	switch kind {
	case "tier":
		return json.Marshal(v.Tier(t, echo))
	case "benefits":
		return json.Marshal(v.Benefits(t, echo))
	}
	return nil, fmt.Errorf("unknown query %q", kind)
}

// TestScenarios runs every acceptance scenario through the pure decider and
// folds. New files in the scenario directory are picked up without code changes.
func TestScenarios(t *testing.T) {
	scenario.RunEach(t, func(*testing.T) scenario.Ledger {
		return bookLedger{domain.NewBook(domain.DefaultPolicy())}
	})
}
