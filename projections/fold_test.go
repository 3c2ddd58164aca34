package projections

import (
	"errors"
	"fmt"

	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/scenario"
)

// scenarioBook submits every scenario into one pure Book: a log with every
// kind of fact, corrections included.
func scenarioBook(t *testing.T) *domain.Book {
	t.Helper()
	b := domain.NewBook(domain.DefaultPolicy())
	for _, lines := range scenario.Lines(t) {
		for _, line := range lines {
			b.Submit(line, time.Now())
		}
	}
	if len(b.Events()) < 20 {
		t.Fatalf("only %d events from the scenarios", len(b.Events()))
	}
	return b
}

func openTemp(t *testing.T, name string) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func foldInBatches(t *testing.T, s *Store, events []domain.Event, size int) {
	t.Helper()
	for i := 0; i < len(events); i += size {
		if err := s.Fold(events[i:min(i+size, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
}

// sameDigest checks that s has the digest *want holds, or sets it when it
// is still empty: the first of several folds of one log sets what the
// others must give. what names the fold in the error.
func sameDigest(t *testing.T, s *Store, want *string, what string, args ...any) {
	t.Helper()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if *want == "" {
		*want = d.Sum
	} else if d.Sum != *want {
		t.Errorf("%s: digest %s, the first fold's %s", fmt.Sprintf(what, args...), d.Sum, *want)
	}
}

// TestFoldMatchesBook: the read models hold exactly the facts the pure fold
// holds, so queries over them answer what the domain answers.
func TestFoldMatchesBook(t *testing.T) {
	b := scenarioBook(t)
	s := openTemp(t, "rm.db")
	foldInBatches(t, s, b.Events(), 5)
	for _, id := range b.PartnerIDs() {
		got, cp, err := s.Partner(id)
		if err != nil {
			t.Fatal(err)
		}
		if cp != b.LastSeq() {
			t.Fatalf("checkpoint %d, want %d", cp, b.LastSeq())
		}
		want := b.Partner(id)
		for _, pair := range [][2]any{{got.Core, want.Core}, {got.Offers, want.Offers}, {got.Sales, want.Sales},
			{got.Metrics, want.Metrics}, {got.Activations, want.Activations}} {
			g, _ := json.Marshal(pair[0])
			w, _ := json.Marshal(pair[1])
			if string(g) != string(w) {
				t.Errorf("partner %s facts differ:\n got %s\nwant %s", id, g, w)
			}
		}
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		gv, wv := domain.Compile(b.Policy(), got, domain.AllKnown), domain.Compile(b.Policy(), want, domain.AllKnown)
		if !reflect.DeepEqual(gv.Benefits(at, 1), wv.Benefits(at, 1)) || !reflect.DeepEqual(gv.Tier(at, 1), wv.Tier(at, 1)) {
			t.Errorf("partner %s: documents differ between read models and the pure fold", id)
		}
	}
	d := s.Directory()
	for _, e := range b.Events() {
		if seq, fp, ok := d.Envelope(e.ID); !ok || seq != e.Seq || fp != e.Fingerprint() {
			t.Errorf("envelope %s: got %d %x %v", e.ID, seq, fp, ok)
		}
	}
	st, err := s.Stats()
	if err != nil || st.Events != uint64(len(b.Events())) || st.Partners != uint64(len(b.PartnerIDs())) {
		t.Errorf("stats %+v (%v), want %d events %d partners", st, err, len(b.Events()), len(b.PartnerIDs()))
	}
}

// TestDigestIndependentOfBatching: same log, same digest, whatever the batch
// sizes, redeliveries and reopenings along the way.
func TestDigestIndependentOfBatching(t *testing.T) {
	events := scenarioBook(t).Events()
	var want string
	for _, size := range []int{1, 3, 7, len(events)} {
		s := openTemp(t, "rm.db")
		foldInBatches(t, s, events, size)
		sameDigest(t, s, &want, "batch size %d", size)
	}
	// A crash after half the log, a reopen, and a redelivery of what was
	// already folded: every event still applied exactly once.
	path := filepath.Join(t.TempDir(), "crash.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	half := len(events) / 2
	foldInBatches(t, s, events[:half], 4)
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	foldInBatches(t, s, events[half-3:], 6)
	if d, _ := s.Digest(); d.Sum != want {
		t.Errorf("after crash and redelivery: digest %s, want %s", d.Sum, want)
	}
}

func TestFoldRefusesGap(t *testing.T) {
	events := scenarioBook(t).Events()
	s := openTemp(t, "rm.db")
	if err := s.Fold(events[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Fold(events[3:5]); err == nil {
		t.Fatal("folding past a missing event succeeded")
	}
	if cp, _ := s.Checkpoint(); cp != events[1].Seq {
		t.Fatalf("checkpoint moved to %d after a refused fold", cp)
	}
}

func TestOpenRefusesOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rm.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion+1)) })
	s.Close()
	if _, err := Open(path); !errors.Is(err, ErrSchema) {
		t.Fatalf("open of a file with another schema: %v, want ErrSchema", err)
	}
}
