package ledger_test

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
)

// headerText renders headers as "Name: value" lines, the fuzz target's form.
func headerText(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ": " + h[k] + "\n")
	}
	return b.String()
}

// parseHeaderText is headerText's inverse; lines without ": " are dropped.
func parseHeaderText(s string) nats.Header {
	h := nats.Header{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			h[k] = append(h[k], v)
		}
	}
	return h
}

// farFuture is a clock no recorded time is after: the input parser's
// future-time check never refuses under it.
var farFuture = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)

// FuzzDecodeRecorded feeds the recorded-event decoder arbitrary stored
// messages (subject, headers, body), seeded with the recorded fixture of
// every schema version (one record of each shape) and foreign records.
// Invariants: it never panics; decoding is deterministic (the live fold and
// a rebuild must skip and decode the same records); an event keeps its
// sequence and the subject's partner and type; a failure is ErrForeign
// naming the sequence; and every envelope the input parser accepts, the
// recorded decoder reads back as the same input with the same fingerprint.
func FuzzDecodeRecorded(f *testing.F) {
	for _, version := range recordedVersions {
		// One record of each shape (type and headers): the whole fixture
		// would take the fuzzer longer to measure than a short run lasts.
		recs, _ := loadFixture(f, version)
		shapes := map[string]bool{}
		for _, s := range recs {
			keys := make([]string, 0, len(s.Headers))
			for k := range s.Headers {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			shape := s.Headers[eventstore.HdrType] + " " + strings.Join(keys, ",")
			if !shapes[shape] {
				shapes[shape] = true
				f.Add(s.Subject, headerText(s.Headers), []byte(s.Data))
			}
		}
	}
	base := map[string]string{eventstore.HdrSchema: eventstore.Schema1, eventstore.HdrType: "SaleBilled",
		eventstore.HdrPartner: "P-1", ledger.HdrRecorded: recordedAt}
	f.Add("ledger.events.P-1.SaleBilled", "", []byte(sale("")))
	f.Add("ledger.events.P-1.SaleBilled", headerText(base), []byte("this is not an envelope"))
	f.Add("ledger.events.P-1", headerText(base), []byte(sale("")))
	f.Add("ledger.events.P-1.SaleBilled", headerText(base), []byte(`{"id":"x","type":"SaleBilled","time":"2024-05-01T00:00:00+24:00","big":1e999,"data":{"sale_id":"S","offer_id":"O","customer_id":"C","amount_usd_cents":9223372036854775808}}`))

	f.Fuzz(func(t *testing.T, subject, headers string, data []byte) {
		const seq = 42
		r := eventstore.NewRecord(seq, subject, parseHeaderText(headers), data, time.Unix(0, 0))
		e, err := ledger.DecodeRecorded(r)
		e2, err2 := ledger.DecodeRecorded(r)
		if !reflect.DeepEqual(e, e2) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("decoding is not deterministic: %+v, %v then %+v, %v", e, err, e2, err2)
		}
		if err != nil {
			if !errors.Is(err, ledger.ErrForeign) || !strings.Contains(err.Error(), "seq 42") {
				t.Fatalf("a refusal that is not ErrForeign naming the sequence: %v", err)
			}
		} else {
			if e.Seq != seq || eventstore.Subject(e.Partner, e.Type) != subject || e.Type != r.Type || e.Partner != r.Partner {
				t.Fatalf("decoded %+v from a record of subject %q", e, subject)
			}
			if e.Fingerprint() != e2.Fingerprint() {
				t.Fatal("fingerprint not deterministic")
			}
		}
		in, err := domain.ParseEnvelope(data, farFuture)
		if err != nil {
			return
		}
		got, err := domain.ParseRecorded(data)
		if err != nil {
			t.Fatalf("the input parser accepts what the recorded decoder refuses: %v\n%s", err, data)
		}
		if !reflect.DeepEqual(in, got) || in.Fingerprint() != got.Fingerprint() {
			t.Fatalf("the recorded decoder reads %+v, the input parser accepted %+v", got, in)
		}
	})
}
