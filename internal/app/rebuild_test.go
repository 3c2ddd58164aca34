package app

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/scenario"
	"github.com/benefits-ledger/ledger/projections"
	bolt "go.etcd.io/bbolt"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestReplayToSeqEqualsLiveThen: a replay that stops at sequence N equals
// the live read models as they were when they had folded N.
func TestReplayToSeqEqualsLiveThen(t *testing.T) {
	l := start(t, Config{})
	scs := scenario.Lines(t)
	submit(t, l.Writer(), scs[0]...)
	ctx := ctxT(t)
	n := l.Writer().LastSeq()
	if err := l.Projector().WaitFor(ctx, n); err != nil {
		t.Fatal(err)
	}
	then, err := l.Models().Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scs[1:] {
		submit(t, l.Writer(), sc...)
	}
	if l.Writer().LastSeq() <= n {
		t.Fatal("the later scenarios appended nothing")
	}
	d, err := ledger.Rebuild(ctx, l.EventStore(), filepath.Join(t.TempDir(), "r.db"), ledger.RebuildOptions{ToSeq: n})
	if err != nil {
		t.Fatal(err)
	}
	if d.Checkpoint != n || d.Sum != then.Sum {
		t.Errorf("replay to %d: %d %s, live then: %d %s", n, d.Checkpoint, d.Sum, then.Checkpoint, then.Sum)
	}
}

// TestVerifyDetectsAlteredReadModel alters one sale in the read model file
// behind the ledger's back; verify must report the difference and name the
// partner, and a rebuild must repair it.
func TestVerifyDetectsAlteredReadModel(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	for _, sc := range scenario.Lines(t) {
		submit(t, l.Writer(), sc...)
	}
	ctx := ctxT(t)
	if r, err := l.Verify(ctx); err != nil || !r.Equal {
		t.Fatalf("verify before tampering: %+v %v", r, err)
	}
	l.Close()

	db, err := bolt.Open(modelsPath(dir), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("sales"))
		k, v := b.Cursor().First()
		if !strings.HasPrefix(string(k), "P-100\x00") {
			return fmt.Errorf("unexpected first sale key %q", k)
		}
		v = slices.Clone(v)
		v[len(v)-3] ^= 0x01 // inside the encoded sale: a flag byte
		return b.Put(k, v)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	l = start(t, Config{DataDir: dir})
	r, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Equal || !slices.Equal(r.PartnersDiffer, []string{"P-100"}) {
		t.Fatalf("verify after tampering: equal=%v differ=%v", r.Equal, r.PartnersDiffer)
	}
	if _, err := l.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Verify(ctx); err != nil || !r.Equal {
		t.Fatalf("verify after rebuild: %+v %v", r, err)
	}
}

// TestRebuildSwapsWithoutDowntime rebuilds the live read models while a
// client keeps submitting and querying; no request fails and nothing is lost.
func TestRebuildSwapsWithoutDowntime(t *testing.T) {
	l := start(t, Config{})
	submit(t, l.Writer(), offerLine("P-1", "O-1"))
	ctx := ctxT(t)
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rs, err := l.Writer().Submit(ctx, [][]byte{saleLine(fmt.Sprintf("S-%d", i), "O-1", 100, t0.Add(time.Duration(i)*time.Minute))})
			if err == nil && !rs[0].OK {
				err = fmt.Errorf("sale %d rejected: %s %s", i, rs[0].Code, rs[0].Error)
			}
			if err == nil {
				_, err = l.Queries().Tier(ctx, ledger.Query{PartnerID: "P-1"})
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	// The rebuilds start once the client is under way (some of its sales
	// recorded), whatever the machine's speed.
	for l.Writer().LastSeq() < 10 {
		select {
		case err := <-errs:
			t.Fatalf("the client stopped before the rebuilds: %v", err)
		case <-ctx.Done():
			t.Fatal("the client recorded nothing")
		case <-time.After(5 * time.Millisecond):
		}
	}
	for range 3 {
		if _, err := l.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("during rebuilds: %v", err)
	}
	if r, err := l.Verify(ctx); err != nil || !r.Equal {
		t.Fatalf("verify after rebuilds: %+v %v", r, err)
	}
}

// TestWhatIfPolicyChangesExactlyTheTiersItShould replays one log under the
// default policy and under one whose tier-1 MBS threshold is $10,000 instead
// of $25,000: exactly the partners with between $10,000 and $25,000 of sales
// change, and to what the domain says.
func TestWhatIfPolicyChangesExactlyTheTiersItShould(t *testing.T) {
	l := start(t, Config{})
	amounts := map[string]int64{"P-5k": 500_000, "P-12k": 1_200_000, "P-24k": 2_400_000, "P-30k": 3_000_000, "P-150k": 15_000_000}
	var lines [][]byte
	for p, cents := range amounts {
		lines = append(lines, offerLine(p, "O-"+p), saleLine("S-"+p, "O-"+p, cents, t0.Add(24*time.Hour)))
	}
	submit(t, l.Writer(), lines...)
	whatIf := strings.Replace(string(domain.DefaultPolicyJSON()), `"mbs_usd_cents": {"thresholds": [2500000,`, `"mbs_usd_cents": {"thresholds": [1000000,`, -1)
	pol, err := domain.ParsePolicy([]byte(whatIf))
	if err != nil {
		t.Fatal(err)
	}
	if pol.Digest() == domain.DefaultPolicy().Digest() {
		t.Fatal("the what-if policy is the default one")
	}
	ctx := ctxT(t)
	dir := t.TempDir()
	base, err := ledger.Rebuild(ctx, l.EventStore(), filepath.Join(dir, "base.db"), ledger.RebuildOptions{Policy: domain.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	alt, err := ledger.Rebuild(ctx, l.EventStore(), filepath.Join(dir, "alt.db"), ledger.RebuildOptions{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if base.Sum != alt.Sum {
		t.Error("the facts depend on the policy; they must not")
	}
	if base.Tiers == alt.Tiers {
		t.Fatal("a different policy gave the same tiers digest")
	}
	var changed []string
	for p := range amounts {
		if base.Partners[p] != alt.Partners[p] {
			changed = append(changed, p)
		}
	}
	slices.Sort(changed)
	if want := []string{"P-12k", "P-24k"}; !slices.Equal(changed, want) {
		t.Errorf("partners whose tiers changed: %v, want %v", changed, want)
	}
	a, err := projections.Open(filepath.Join(dir, "alt.db"), projections.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	hist, policy, err := a.Tiers("P-12k")
	if err != nil || len(hist) == 0 || hist[0].To.Rank != 1 || policy != pol.Version+"@"+pol.Digest() {
		t.Errorf("what-if tiers of P-12k: %+v under %q (%v)", hist, policy, err)
	}
}
