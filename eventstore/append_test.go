package eventstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestSubjects(t *testing.T) {
	if got := Subject("P-100", "SaleRecorded"); got != "ledger.events.P-100.SaleRecorded" {
		t.Errorf("Subject = %q", got)
	}
	if got := PartnerFilter("P-100"); got != "ledger.events.P-100.>" {
		t.Errorf("PartnerFilter = %q", got)
	}
	p, typ, ok := parseSubject("ledger.events.P_1.TierChanged")
	if !ok || p != "P_1" || typ != "TierChanged" {
		t.Errorf("parseSubject = %q %q %v", p, typ, ok)
	}
	for _, bad := range []string{"ledger.events.P", "ledger.events.P.A.B", "other.P.A", "ledger.events..A"} {
		if _, _, ok := parseSubject(bad); ok {
			t.Errorf("parseSubject(%q) ok", bad)
		}
	}
}

func TestAppendInvalid(t *testing.T) {
	e := newEnv(t)
	good := msg("P-1", "SaleRecorded", 0)
	many := make([]Message, MaxBatch+1)
	for i := range many {
		many[i] = good
	}
	tests := []struct {
		name   string
		msgs   []Message
		expect map[string]uint64
	}{
		{"no messages", nil, nil},
		{"too many", many, nil},
		{"partner with dot", []Message{{Partner: "P.1", Type: "A"}}, nil},
		{"partner wildcard", []Message{{Partner: "*", Type: "A"}}, nil},
		{"partner too long", []Message{{Partner: strings.Repeat("p", 65), Type: "A"}}, nil},
		{"empty type", []Message{{Partner: "P", Type: ""}}, nil},
		{"type with dot", []Message{{Partner: "P", Type: "A.B"}}, nil},
		{"reserved header", []Message{{Partner: "P", Type: "A", Header: map[string]string{HdrType: "B"}}}, nil},
		{"foreign header", []Message{{Partner: "P", Type: "A", Header: map[string]string{"Nats-Msg-Id": "x"}}}, nil},
		{"header line break", []Message{{Partner: "P", Type: "A", Header: map[string]string{"Ledger-X": "a\r\nb"}}}, nil},
		{"expectation without message", []Message{good}, map[string]uint64{"P-1": 0, "P-2": 0}},
		{"expectation bad partner", []Message{good}, map[string]uint64{"P 2": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.store.Append(context.Background(), tt.msgs, tt.expect)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if last, _ := e.store.LastSeq(context.Background()); last != 0 {
		t.Errorf("LastSeq = %d after invalid appends", last)
	}
}

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	msgs := []Message{
		msg("P-100", "PartnerEnrolled", 0),
		msg("P-200", "PartnerEnrolled", 1),
		msg("P-100", "SaleRecorded", 2),
		{Partner: "P-300", Type: "Binary", Data: []byte{0, 1, 2, 0xff, '\n', '\r', 0}},
		{Partner: "P-300", Type: "Empty", Data: nil},
		msg("P-200", "SaleRecorded", 5),
	}
	// Mixed: one single-message append, then a batch.
	if first := mustAppend(t, e.store, msgs[:1], map[string]uint64{"P-100": 0}); first != 1 {
		t.Fatalf("first = %d", first)
	}
	if first := mustAppend(t, e.store, msgs[1:], map[string]uint64{"P-100": 1, "P-200": 0}); first != 2 {
		t.Fatalf("first = %d", first)
	}

	check := func(t *testing.T, rec Record, seq uint64, m Message) {
		t.Helper()
		if rec.Seq != seq || rec.Partner != m.Partner || rec.Type != m.Type {
			t.Errorf("record = %d %s %s, want %d %s %s", rec.Seq, rec.Partner, rec.Type, seq, m.Partner, m.Type)
		}
		if !bytes.Equal(rec.Data, m.Data) {
			t.Errorf("seq %d data = %q, want %q", seq, rec.Data, m.Data)
		}
		want := map[string]string{HdrSchema: "1", HdrType: m.Type, HdrPartner: m.Partner}
		for k, v := range m.Header {
			want[k] = v
		}
		if len(rec.Header) != len(want) {
			t.Errorf("seq %d headers = %v, want %v", seq, rec.Header, want)
		}
		for k, v := range want {
			if rec.Header[k] != v {
				t.Errorf("seq %d header %s = %q, want %q", seq, k, rec.Header[k], v)
			}
		}
		if rec.Stored.IsZero() || rec.Stored.Location() != time.UTC || time.Since(rec.Stored) > time.Minute {
			t.Errorf("seq %d stored = %v", seq, rec.Stored)
		}
	}

	t.Run("read all", func(t *testing.T) {
		recs := readAll(t, e.store, 1, "")
		if len(recs) != len(msgs) {
			t.Fatalf("read %d records, want %d", len(recs), len(msgs))
		}
		for i, rec := range recs {
			check(t, rec, uint64(i+1), msgs[i])
		}
	})
	t.Run("read from", func(t *testing.T) {
		recs := readAll(t, e.store, 4, "")
		if len(recs) != 3 || recs[0].Seq != 4 {
			t.Fatalf("read %d records from 4", len(recs))
		}
	})
	t.Run("read partner", func(t *testing.T) {
		tests := []struct {
			partner string
			from    uint64
			want    []uint64
		}{
			{"P-100", 1, []uint64{1, 3}},
			{"P-200", 1, []uint64{2, 6}},
			{"P-200", 3, []uint64{6}},
			{"P-300", 0, []uint64{4, 5}},
			{"P-999", 1, nil},
			{"P-100", 4, nil},
		}
		for _, tt := range tests {
			recs := readAll(t, e.store, tt.from, tt.partner)
			var got []uint64
			for _, r := range recs {
				got = append(got, r.Seq)
				check(t, r, r.Seq, msgs[r.Seq-1])
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Read(%d, %s) = %v, want %v", tt.from, tt.partner, got, tt.want)
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		for i, m := range msgs {
			rec, err := e.store.GetMsg(ctx, uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			check(t, rec, uint64(i+1), m)
		}
		if _, err := e.store.GetMsg(ctx, 99); err == nil {
			t.Error("GetMsg(99) succeeded")
		}
	})
	t.Run("last seqs", func(t *testing.T) {
		for p, want := range map[string]uint64{"P-100": 3, "P-200": 6, "P-300": 5, "P-404": 0} {
			got, err := e.store.PartnerLastSeq(ctx, p)
			if err != nil || got != want {
				t.Errorf("PartnerLastSeq(%s) = %d, %v; want %d", p, got, err, want)
			}
		}
		if got, err := e.store.LastSeq(ctx); err != nil || got != 6 {
			t.Errorf("LastSeq = %d, %v", got, err)
		}
	})
}

// TestAppendContiguous runs batches from several goroutines at once and
// checks that each batch occupies exactly [first, first+n) with its own
// messages in order.
func TestAppendContiguous(t *testing.T) {
	e := newEnv(t)
	const writers, batches = 4, 8
	type result struct {
		first uint64
		msgs  []Message
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				n := 1 + (w*7+b*13)%300 // 1..300, including single messages
				msgs := make([]Message, n)
				for i := range msgs {
					msgs[i] = msg(fmt.Sprintf("W%d-%d", w, i%3), "SaleRecorded", b*1000+i)
				}
				first, err := e.store.Append(context.Background(), msgs, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				results = append(results, result{first, msgs})
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	recs := readAll(t, e.store, 1, "")
	total := 0
	for _, r := range results {
		total += len(r.msgs)
		for i, m := range r.msgs {
			rec := recs[r.first-1+uint64(i)]
			if rec.Partner != m.Partner || !bytes.Equal(rec.Data, m.Data) {
				t.Fatalf("seq %d holds %s %s, want %s %s", rec.Seq, rec.Partner, rec.Data, m.Partner, m.Data)
			}
		}
	}
	if len(recs) != total {
		t.Fatalf("stream has %d records, appended %d", len(recs), total)
	}
}

func TestAppendConflict(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		msgs        []Message
		expect      map[string]uint64
		wantPartner string
		wantExp     uint64
		wantActual  uint64
	}{
		// Setup leaves A at 3, B at 4, C with no events.
		{"single stale", []Message{msg("A", "X", 0)}, map[string]uint64{"A": 1}, "A", 1, 3},
		{"single new partner that exists", []Message{msg("B", "X", 0)}, map[string]uint64{"B": 0}, "B", 0, 4},
		{"single ahead", []Message{msg("C", "X", 0)}, map[string]uint64{"C": 7}, "C", 7, 0},
		{"batch second partner stale",
			[]Message{msg("A", "X", 0), msg("B", "X", 1), msg("C", "X", 2), msg("A", "Y", 3)},
			map[string]uint64{"A": 3, "B": 2, "C": 0}, "B", 2, 4},
		{"batch last partner stale",
			[]Message{msg("A", "X", 0), msg("B", "X", 1), msg("C", "X", 2)},
			map[string]uint64{"A": 3, "B": 4, "C": 1}, "C", 1, 0},
		{"batch first of two stale",
			[]Message{msg("C", "X", 0), msg("A", "X", 1), msg("B", "X", 2)},
			map[string]uint64{"A": 3, "B": 0, "C": 0}, "B", 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			mustAppend(t, e.store, []Message{msg("A", "X", 0), msg("A", "Y", 1)}, nil)
			mustAppend(t, e.store, []Message{msg("A", "X", 2), msg("B", "X", 3)}, map[string]uint64{"A": 2, "B": 0})

			_, err := e.store.Append(ctx, tt.msgs, tt.expect)
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConflictError", err)
			}
			if !errors.Is(err, ErrConflict) {
				t.Error("errors.Is(err, ErrConflict) = false")
			}
			if ce.Partner != tt.wantPartner || ce.Expected != tt.wantExp || ce.Actual != tt.wantActual {
				t.Errorf("conflict = %+v, want %s %d %d", *ce, tt.wantPartner, tt.wantExp, tt.wantActual)
			}
			if last, _ := e.store.LastSeq(ctx); last != 4 {
				t.Errorf("LastSeq = %d after rejected append, want 4 (nothing stored)", last)
			}
			// The stream accepts the next correct append right after.
			if first := mustAppend(t, e.store, []Message{msg("A", "Z", 9), msg("C", "Z", 9)}, map[string]uint64{"A": 3, "C": 0}); first != 5 {
				t.Errorf("next first = %d, want 5", first)
			}
		})
	}
}

// TestOptimisticConcurrency races two writers with the same expectation:
// exactly one may win each round.
func TestOptimisticConcurrency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, size := range []int{1, 3} {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			partner := fmt.Sprintf("P-race-%d", size)
			var last uint64
			for round := range 20 {
				var (
					wg    sync.WaitGroup
					errs  [2]error
					first [2]uint64
				)
				start := make(chan struct{})
				for w := range 2 {
					msgs := make([]Message, size)
					for i := range msgs {
						msgs[i] = msg(partner, "SaleRecorded", round*10+w)
					}
					wg.Go(func() {
						<-start
						first[w], errs[w] = e.store.Append(ctx, msgs, map[string]uint64{partner: last})
					})
				}
				close(start)
				wg.Wait()

				wins := 0
				for w := range 2 {
					var ce *ConflictError
					switch {
					case errs[w] == nil:
						wins++
						last = first[w] + uint64(size) - 1
					case errors.As(errs[w], &ce):
						if ce.Partner != partner {
							t.Errorf("round %d: conflict names %s", round, ce.Partner)
						}
					default:
						t.Fatalf("round %d: unexpected error %v", round, errs[w])
					}
				}
				if wins != 1 {
					t.Fatalf("round %d: %d winners (%v)", round, wins, errs)
				}
				if got, _ := e.store.PartnerLastSeq(ctx, partner); got != last {
					t.Fatalf("round %d: PartnerLastSeq = %d, want %d", round, got, last)
				}
			}
		})
	}
}

// TestAppendOutcome checks how failures of the deciding request are
// classified, against a fake "stream" that stages batches but never answers
// the commit, and against no stream at all.
func TestAppendOutcome(t *testing.T) {
	e := newEnv(t)
	// A plain subscriber on a subject space no stream captures.
	sub, err := e.nc.Subscribe("fake.>", func(m *nats.Msg) {
		if m.Header.Get(hdrBatchCommit) == "" && m.Header.Get(hdrBatchID) != "" && m.Reply != "" {
			_ = m.Respond(nil) // staged
		}
		// Commits and single publishes are swallowed.
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		subject string
		n       int
		unknown bool
	}{
		{"single lost", "fake", 1, true},
		{"batch commit lost", "fake", 5, true},
		{"single no responders", "nowhere", 1, false},
		{"batch no responders", "nowhere", 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := make([]Message, tt.n)
			for i := range msgs {
				msgs[i] = msg("P", "X", i)
			}
			out, err := buildMsgs("FAKE", msgs, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out {
				m.Subject = tt.subject + "." + m.Subject
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if tt.n == 1 {
				_, err = e.store.commit(ctx, out[0])
			} else {
				_, err = e.store.publishBatch(ctx, out, 0)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrUnknownOutcome); got != tt.unknown {
				t.Errorf("errors.Is(%v, ErrUnknownOutcome) = %v, want %v", err, got, tt.unknown)
			}
		})
	}
}

func TestParseWrongLastSeq(t *testing.T) {
	for desc, want := range map[string]uint64{"wrong last sequence: 42": 42, "wrong last sequence: 0": 0} {
		if got, ok := parseWrongLastSeq(desc); !ok || got != want {
			t.Errorf("parseWrongLastSeq(%q) = %d %v", desc, got, ok)
		}
	}
	if _, ok := parseWrongLastSeq("wrong last sequence"); ok {
		t.Error("parsed a description without a number")
	}
}

// TestAppendExpectLastSeq checks the stream-wide expectation: an append
// succeeds only on the stream's current last sequence, single messages and
// batches alike, and a failed one stores nothing and reports the stream's
// actual last sequence.
func TestAppendExpectLastSeq(t *testing.T) {
	ctx := context.Background()
	one := []Message{msg("C", "X", 0)}
	batch := []Message{msg("A", "X", 0), msg("C", "X", 1), msg("A", "Y", 2)}
	tests := []struct {
		name     string
		msgs     []Message
		expected uint64
		wantErr  bool
	}{
		// Setup leaves the stream at 4.
		{"single current", one, 4, false},
		{"batch current", batch, 4, false},
		{"single behind", one, 3, true},
		{"batch behind", batch, 2, true},
		{"batch ahead", batch, 5, true},
		{"batch on an empty stream's sequence", batch, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			mustAppend(t, e.store, []Message{msg("A", "X", 0), msg("A", "Y", 1)}, nil)
			mustAppend(t, e.store, []Message{msg("A", "X", 2), msg("B", "X", 3)}, nil)

			first, err := e.store.Append(ctx, tt.msgs, nil, ExpectLastSeq(tt.expected))
			last, _ := e.store.LastSeq(ctx)
			if !tt.wantErr {
				if err != nil || first != 5 || last != 4+uint64(len(tt.msgs)) {
					t.Fatalf("Append = %d, %v; last %d: want first 5, last %d", first, err, last, 4+len(tt.msgs))
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
				t.Fatalf("err = %v, want a *ConflictError", err)
			}
			if ce.Partner != "" || ce.Expected != tt.expected || ce.Actual != 4 {
				t.Errorf("conflict = %+v, want the stream's: expected %d, actual 4", *ce, tt.expected)
			}
			if last != 4 {
				t.Errorf("LastSeq = %d after a refused append, want 4 (nothing stored)", last)
			}
		})
	}
	t.Run("not with per-partner expectations", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.store.Append(ctx, one, map[string]uint64{"C": 0}, ExpectLastSeq(0))
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	})
}
