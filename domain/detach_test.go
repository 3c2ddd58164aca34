package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// TestDetachedViewsOnGeneratedLog: on a realistic log (fraud, cancellations,
// revocations, every era), detached Views answer tier and benefits exactly
// as the Views they came from.
func TestDetachedViewsOnGeneratedLog(t *testing.T) {
	cfg := gen.Config{Events: 6000, Seed: 11}
	b, err := gen.Book(cfg)
	if err != nil {
		t.Fatal(err)
	}
	revoked, reasons := 0, map[string]int{}
	for _, id := range b.PartnerIDs() {
		v := domain.Compile(b.Policy(), b.Partner(id), domain.AllKnown)
		d := v.Detach()
		for at := time.Date(2020, 7, 1, 0, 0, 0, 0, time.UTC); at.Before(cfg.Clock()); at = at.AddDate(0, 2, 5) {
			bv, bd := v.Benefits(at, 1), d.Benefits(at, 1)
			if !reflect.DeepEqual(v.Tier(at, 1), d.Tier(at, 1)) || !reflect.DeepEqual(bv, bd) {
				t.Fatalf("%s at %s: detached View answers differently", id, at)
			}
			for _, a := range bv.Activations {
				if a.Status == domain.StatusRevoked {
					revoked++
					for _, r := range a.Reasons {
						reasons[r]++
					}
				}
			}
		}
	}
	// The generated program's revocations are sanctions; the recounts behind
	// the other reasons are TestDetachedViewAnswersAsCompiled's.
	if revoked == 0 {
		t.Fatalf("no revoked activation in the generated log (reasons %v): revocations went untested", reasons)
	}
}

// BenchmarkCompileDetached is a query cache's miss: compiling a partner's
// View and detaching it, over the partners of a generated program.
func BenchmarkCompileDetached(b *testing.B) {
	book, err := gen.Book(gen.Config{Events: 6000, Seed: 11})
	if err != nil {
		b.Fatal(err)
	}
	ids := book.PartnerIDs()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		domain.Compile(book.Policy(), book.Partner(ids[i%len(ids)]), domain.AllKnown).Detach()
		i++
	}
}
